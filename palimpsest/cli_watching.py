"""Commands for watching on its own: schedule and monitor (issue 15).

Imported by palimpsest/cli.py at its end; each command registers itself on its `cli` group.
"""

from __future__ import annotations

import sys

import click

from palimpsest.cli import _collection, cli, collection_option, json_option, print_json


@cli.command()
@collection_option
@click.option("--limit", type=click.IntRange(0), default=0,
              help="Show this many URLs at most (0: all).")
@json_option
def schedule(collection_dir: str, limit: int, as_json: bool) -> None:
    """Each page's estimated change rate (changes a day, from its captures), visits, last
    change and when it is next due; per site too; and what `palimpsest monitor` fetches
    next."""
    from index.indexer import update
    from index.schedule.report import schedule_report

    collection = _collection(collection_dir)
    config = collection.config_if_any()
    for damage in update(collection, config=config, fulltext=False).damaged:
        click.echo(f"skipped: {damage}", err=True)
    report = schedule_report(collection, config)
    shown = report.to_json(limit or None)
    if as_json:
        print_json(shown)
        return
    for line in _schedule_lines(shown):
        click.echo(line)


def _schedule_lines(shown: dict) -> list[str]:
    limits = shown["limits"]
    lines = [f"schedule at {shown['generated']}: budget {limits['fetches_per_day']} fetches a "
             f"day ({limits['fetches_per_day_per_site']} a site), every page between "
             f"{limits['min_interval']} and {limits['max_interval']}; planned "
             f"{shown['planned_fetches_per_day']} a day; {shown['fetched_last_24h']} fetched "
             f"in the last 24 h; {shown['due']} due, {shown['chosen']} to fetch now"]
    if not shown["feasible"]:
        lines.append("the budget cannot visit every page within max_interval: raise "
                     "fetches_per_day or max_interval")
    lines.append(f"\n{'site':<16} {'pages':>6} {'visits':>7} {'changes/day':>12}  "
                 f"{'last change':<20}  next due")
    for site in shown["sites"]:
        lines.append(f"{site['site'] or '(no site)':<16} {site['pages']:>6} "
                     f"{site['visits']:>7} {site['changes_per_day']:>12.4f}  "
                     f"{site['last_change'] or '-':<20}  {site['next_due'] or '-'}")
    lines.append(f"\n{'changes/day':>11} {'visits':>6} {'changed':>7}  {'last change':<20}  "
                 f"{'next due':<20}  url")
    for row in shown["urls"]:
        mark = "*" if row["chosen"] else " "
        lines.append(f"{row['estimate']:>11.4f} {row['visits']:>6} {row['changes']:>7}  "
                     f"{row['last_change'] or '-':<20}  {row['next_due'] or '-':<20} "
                     f"{mark}{row['url']}")
    if shown["total"] > len(shown["urls"]):
        lines.append(f"... {shown['total'] - len(shown['urls'])} more (--limit 0 for all)")
    return lines


@cli.command()
@collection_option
@click.option("--once", is_flag=True, help="Do what is due now, then exit.")
def monitor(collection_dir: str, once: bool) -> None:
    """Recrawl the pages that are due, within the [schedule] budget, index, notify; and
    again as pages come due (one monitor per collection; SIGTERM stops it cleanly)."""
    from index.schedule.state import MonitorLock

    collection = _collection(collection_dir)
    collection.load_config()  # a collection without a sound config: one line, nothing made
    with MonitorLock(collection):  # before the crawler is imported: a refusal is quick
        from palimpsest.monitor import Monitor

        Monitor(collection, _say).run(once=once)


def _say(line: str) -> None:
    """A line of the monitor's, out at once: its output is a log, often a pipe's."""
    click.echo(line)
    sys.stdout.flush()
