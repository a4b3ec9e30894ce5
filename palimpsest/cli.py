"""The `palimpsest` command: parses arguments, calls into crawler/, index/ and web/, prints.

Every command is a thin shell over a function that tests call too; `--json` prints the same
objects the HTTP API returns. Failures a user can cause arrive here as PalimpsestError and leave
as one line on stderr with the exit code of their kind (2 for bad usage or config, 1 otherwise).
"""

from __future__ import annotations

import json
import os
import signal
import sys
from typing import Any

import click

from index import __version__
from index.collection import Collection
from index.errors import PalimpsestError


class _Group(click.Group):
    """Turns our errors into one clear line and an exit code, at the edge and nowhere else."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except PalimpsestError as exc:
            raise _Failure(str(exc), exc.exit_code) from None


class _Failure(click.ClickException):
    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code


collection_option = click.option(
    "--collection",
    "collection_dir",
    envvar="PALIMPSEST_COLLECTION",
    default="warcs",
    show_default=True,
    type=click.Path(file_okay=False),
    help="The collection directory (also $PALIMPSEST_COLLECTION).",
)
json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON, as the API does.")


def print_json(obj: Any) -> None:
    click.echo(json.dumps(obj, ensure_ascii=False, indent=2, default=str))


@click.group(cls=_Group)
@click.version_option(__version__, prog_name="palimpsest")
def cli() -> None:
    """Keep a network of related websites on record over time."""


@cli.command()
@collection_option
@click.option("--site", "sites", multiple=True, metavar="NAME=URL",
              help="A site of the network and its seed URL (repeatable).")
@click.option("--sample-network", "sample_proxy", metavar="URL",
              help="Configure the bundled sample network, reached through this proxy URL.")
@click.option("--force", is_flag=True, help="Overwrite an existing config.")
@click.option("--browser", is_flag=True,
              help='Capture the given sites in headless Chromium (capture = "browser").')
def init(collection_dir: str, sites: tuple[str, ...], sample_proxy: str | None,
         force: bool, browser: bool) -> None:
    """Write a commented network config into the collection."""
    from palimpsest.setup import write_config

    path = write_config(_collection(collection_dir), sites, sample_proxy, force=force,
                        browser=browser)
    click.echo(f"wrote {path}")


@cli.command()
@collection_option
@click.option("--site", "sites", multiple=True, metavar="NAME", help="Crawl only this site.")
@click.option("--concurrency-per-site", type=click.IntRange(1, 64),
              help="Simultaneous connections to one site.")
@click.option("--delay", type=click.FloatRange(0), help="Seconds between requests to a site.")
@click.option("--no-robots", is_flag=True, help="Ignore robots.txt (recorded in the WARCs).")
@click.option("--max-pages", type=click.IntRange(1), help="Pages per site at most.")
@click.option("--resume", is_flag=True, help="Finish the last, interrupted crawl.")
@click.option("--browser", is_flag=True,
              help="Render every HTML page in headless Chromium, recorded on the wire.")
@click.option("--frontier", metavar="redis://HOST:PORT/DB",
              help="Keep the crawl's state in Redis: `palimpsest worker` processes join it.")
@click.option("--lease-seconds", type=click.FloatRange(1), default=30.0, show_default=True,
              help="With --frontier: how long a worker's claim on a URL outlives the worker.")
def crawl(collection_dir: str, sites: tuple[str, ...], concurrency_per_site: int | None,
          delay: float | None, no_robots: bool, max_pages: int | None, resume: bool,
          browser: bool, frontier: str | None, lease_seconds: float) -> None:
    """Crawl every site of the network into a new crawl folder."""
    from crawler.report import format_summary
    from crawler.run import run_crawl
    from crawler.settings import CrawlOptions

    options = CrawlOptions(sites=sites, concurrency_per_site=concurrency_per_site,
                           delay=delay, no_robots=no_robots, max_pages=max_pages,
                           resume=resume, progress=sys.stderr.isatty(), browser=browser,
                           frontier=frontier, lease_seconds=lease_seconds)
    collection = _collection(collection_dir)
    if frontier:
        from crawler.distributed.run import start_shared_crawl as run_crawl
    result = run_crawl(collection, options)
    click.echo(format_summary(result.summary))
    click.echo(f"crawl log and WARCs in {result.crawl_dir}")
    if not result.finished:
        again = f" --frontier {frontier}" if frontier else ""
        click.echo(f"crawl interrupted: finish it with `palimpsest crawl --resume{again}`",
                   err=True)
        raise click.exceptions.Exit(1)
    if not result.unreached:
        _notify_after(collection, result.crawl_id, result.crawl_dir)
    if result.unreached:
        click.echo(f"crawl {result.crawl_id} captured nothing of {', '.join(result.unreached)}"
                   " (every fetch failed or was refused: see the crawl log); comparisons "
                   "skip this crawl", err=True)
        raise click.exceptions.Exit(1)


def _notify_after(collection: Collection, crawl_id: str, crawl_dir: Any) -> None:
    """Send the config's [[notify]] targets what the crawl changed. Nothing of it can fail
    the crawl, whose WARCs are written: a failure is a line on stderr, and the crawl's notify
    log says more. Without [[notify]] this costs nothing (not even the import)."""
    try:
        if not collection.load_config().notify:
            return
        from index.notify import LOG_NAME, notify_after_crawl

        deliveries = notify_after_crawl(collection, crawl_id)
    except PalimpsestError as exc:
        click.echo(f"notifications not sent: {exc}", err=True)
        return
    for delivery in deliveries:
        if delivery.outcome == "failed":
            click.echo(f"{delivery}; see {crawl_dir / LOG_NAME}", err=True)
        elif delivery.outcome == "sent":
            click.echo(str(delivery))


@cli.command("sample-network")
@click.option("--port", type=click.IntRange(0, 65535), default=8765, show_default=True)
@click.option("--revision", type=click.IntRange(1), default=1, show_default=True)
@click.option("--latency-ms", type=click.IntRange(0), default=0, show_default=True)
def sample_network(port: int, revision: int, latency_ms: int) -> None:
    """Serve the bundled sample network on 127.0.0.1, as an HTTP proxy."""
    from palimpsest.sample_network import serve

    serve(port, revision, latency_ms)


@cli.command()
@click.option("--dir", "demo_dir", envvar="PALIMPSEST_COLLECTION", default="warcs",
              show_default=True, type=click.Path(file_okay=False),
              help="The demo's collection, emptied first (only if a demo made it); the "
                   "default collection, so that every command finds it.")
@click.option("--no-serve", is_flag=True, help="Stop after indexing; do not start the web UI.")
@click.option("--port", type=click.IntRange(0, 65535), default=8080, show_default=True,
              help="Port of the web UI (checked free before the demo starts).")
def demo(demo_dir: str, no_serve: bool, port: int) -> None:
    """Sample network, crawl revision 1, crawl revision 2, index, serve: see what Palimpsest
    does, offline, in the default collection."""
    from palimpsest.demo import run_demo

    run_demo(Collection.locate(demo_dir), serve=not no_serve, port=port)


workers_option = click.option("--workers", type=click.IntRange(1),
                              help="Processes reading WARC files (default: one per CPU).")


@cli.command("index")
@collection_option
@workers_option
@click.option("--catalog-only", is_flag=True, help="Update the catalog, not the full text.")
@click.option("--rebuild", is_flag=True,
              help="Rebuild the full-text index with the configured engine (to switch engines).")
@json_option
def index_command(collection_dir: str, workers: int | None, catalog_only: bool,
                  rebuild: bool, as_json: bool) -> None:
    """Bring the catalog and full-text index up to date with the WARC files."""
    from index.fulltext_pass import rebuild_fulltext
    from index.indexer import update

    collection = _collection(collection_dir)
    progress = sys.stderr.isatty() and not as_json
    signal.signal(signal.SIGTERM, _stop_indexing)
    config = collection.config_if_any()
    summary = update(collection, config=config, fulltext=not catalog_only and not rebuild,
                     workers=workers, progress=progress)
    if rebuild:
        summary = rebuild_fulltext(collection, config=config, progress=progress,
                                   workers=workers)
    print_json(summary.to_json()) if as_json else click.echo(str(summary))


def _stop_indexing(signum: int, frame: object) -> None:
    """SIGTERM during `palimpsest index`: unwind as an error does (the catalog transaction
    under way rolls back, the full-text batch is dropped, the workers stop)."""
    raise _Failure("palimpsest index stopped by SIGTERM: what it finished is kept; run it "
                   "again to finish", 1)


@cli.command()
@collection_option
@click.argument("warcs", nargs=-1, required=True, metavar="WARC_OR_ARC...",
                type=click.Path(dir_okay=False))
@click.option("--name", help="Import folder under imported/ (default: each file's name).")
@json_option
def add(collection_dir: str, warcs: tuple[str, ...], name: str | None, as_json: bool) -> None:
    """Bring WARC (.warc, .warc.gz) and ARC (.arc, .arc.gz) files written by any tool into the
    collection and index them."""
    from index.warc_import import add_warcs

    summary = add_warcs(_collection(collection_dir), warcs, name=name,
                        progress=sys.stderr.isatty() and not as_json)
    print_json(summary.to_json()) if as_json else click.echo(str(summary))


@cli.command()
@collection_option
@click.argument("url")
@json_option
def captures(collection_dir: str, url: str, as_json: bool) -> None:
    """Every capture of URL, oldest first."""
    from index.catalog import captures_of

    found = captures_of(_collection(collection_dir), url)
    if as_json:
        print_json([c.to_json() for c in found])
        return
    for c in found:
        click.echo(f"{c.timestamp}  {c.status or '-':>3}  {c.record_type:<8}  "
                   f"{c.mime or '-':<24}  {c.crawl}  {c.url}")


@cli.command()
@collection_option
def cdxj(collection_dir: str) -> None:
    """The collection's CDXJ index on stdout, as cdxj-indexer writes it."""
    from index.catalog import Catalog
    from index.cdxj import cdxj_lines
    from index.indexer import update

    collection = _collection(collection_dir)
    for damage in update(collection, fulltext=False).damaged:
        click.echo(f"skipped: {damage}", err=True)
    with Catalog.open(collection) as catalog:
        for line in cdxj_lines(catalog):
            sys.stdout.write(line + "\n")


@cli.command()
@collection_option
@workers_option
@json_option
@click.argument("package", required=False, metavar="[FILE.wacz]",
                type=click.Path(dir_okay=False))
def verify(collection_dir: str, workers: int | None, as_json: bool,
           package: str | None) -> None:
    """Re-check every WARC record's digests against the files and the catalog; or, given a
    WACZ package, check it as its recipient would: the zip, every resource's hash and size,
    datapackage-digest.json and the signature."""
    from index.verify import verify as verify_collection
    from index.wacz.reader import verify_package

    report = verify_package(package) if package else verify_collection(
        _collection(collection_dir), workers=workers,
        progress=sys.stderr.isatty() and not as_json)
    print_json(report.to_json()) if as_json else click.echo(str(report))
    if not report.ok:
        raise click.exceptions.Exit(1)


@cli.command()
@collection_option
@click.argument("query")
@click.option("--site", help="Only captures of this site (its name in the network config).")
@click.option("--from", "date_from", metavar="DATE", help="Captured on or after (YYYY[-MM[-DD]]).")
@click.option("--to", "date_to", metavar="DATE", help="Captured on or before (YYYY[-MM[-DD]]).")
@click.option("--as-of", metavar="DATE", help="Only what was live then: each URL's latest "
              "capture at that date, if it matches.")
@click.option("--sort", type=click.Choice(["relevance", "date"]), default="relevance",
              show_default=True)
@click.option("--limit", type=click.IntRange(1, 1000), default=10, show_default=True)
@click.option("--offset", type=click.IntRange(0), default=0, help="Skip this many results.")
@click.option("--every-capture", is_flag=True,
              help="One result per matching capture, not per URL.")
@json_option
def search(collection_dir: str, query: str, site: str | None, date_from: str | None,
           date_to: str | None, as_of: str | None, sort: str, limit: int, offset: int,
           every_capture: bool, as_json: bool) -> None:
    """Full-text search across every capture: words, "phrases", OR, NOT/-word, prefix*,
    title:/site:/url: fields."""
    from index.search.service import SearchRequest
    from index.search.service import search as run_search

    found = run_search(_collection(collection_dir), SearchRequest(
        q=query, site=site, date_from=date_from, date_to=date_to, as_of=as_of, sort=sort,
        collapse=not every_capture, limit=limit, offset=offset))
    if as_json:
        print_json(found)
        return
    shown = f"{offset + 1}-{offset + len(found['results'])} of " if found["results"] else ""
    if found["read_as"] == "url":  # a URL or URL pattern: its captured URLs
        click.echo(f"{shown}{found['total']} captured URLs ({found['match_type']} match of "
                   f"{found['url']}); `palimpsest captures URL` lists a URL's captures")
        for result in found["results"]:
            click.echo(f"  {result['url']}  {result['captures']} captures, "
                       f"{result['first_seen']} to {result['last_seen']}")
        return
    click.echo(f"{shown}{found['total']} {'captures' if every_capture else 'pages'} match")
    for result in found["results"]:
        # the snippet's marked runs bold and underlined
        snippet = "".join(click.style(text, bold=True, underline=True) if marked else text
                          for text, marked in result["snippet_runs"])
        versions = result["versions"]
        click.echo(f"\n{click.style(result['title'], bold=True)}\n  {result['url']}\n  "
                   f"{result['date']}  {result['site'] or ''}  {versions} "
                   f"version{'s' if versions != 1 else ''}\n  {snippet}")


@cli.command()
@collection_option
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=click.IntRange(0, 65535), default=8080, show_default=True)
@click.option("--allow-host", "allow_hosts", multiple=True, metavar="NAME",
              help="Another host name to answer to (a reverse proxy's); repeatable. Besides "
                   "it, only loopback names and --host (with the machine's own names for "
                   "0.0.0.0 or ::).")
def serve(collection_dir: str, host: str, port: int, allow_hosts: tuple[str, ...]) -> None:
    """The web UI and JSON APIs, read-only, on a production WSGI server (waitress)."""
    from web import serve as serve_web

    collection = _collection(collection_dir)
    root = collection.root
    if not collection.derived_dir.is_dir():
        todo = ("`palimpsest index`" if next(collection.warc_files(), None) else
                "`palimpsest crawl` (or `palimpsest add WARC...`), then `palimpsest index`")
        raise _Failure(f"nothing indexed in {root}: run {todo} first", 2)
    serve_web(root, host, port, also_answer=allow_hosts, ready=lambda address: click.echo(
        f"Palimpsest serving {root} at {address} (Ctrl-C to stop)"))


@cli.command()
@collection_option
@click.argument("url")
@click.option("--from", "from_ts", metavar="TS", help="The older capture (nearest this time).")
@click.option("--to", "to_ts", metavar="TS", help="The newer capture (nearest this time).")
@click.option("--full", is_flag=True, help="Compare the full visible text, not the main text.")
@click.option("--ignore-case", is_flag=True, help="Case-only changes are no change.")
@click.option("--count-breaks", is_flag=True,
              help="A paragraph split or joined counts as a change (by default it does not).")
@click.option("--evidence", metavar="FILE.wacz", type=click.Path(dir_okay=False),
              help="Also write the comparison's evidence package: a signed WACZ of both "
                   "captures with their requisites, the diff, its receipt and the diff as "
                   "a self-contained page.")
@json_option
def diff(collection_dir: str, url: str, from_ts: str | None, to_ts: str | None, full: bool,
         ignore_case: bool, count_breaks: bool, evidence: str | None, as_json: bool) -> None:
    """Compare two captures of URL (default: the last two that differ): the words removed
    and added, links, title, status, headers, and a receipt to cite."""
    from index.catalog import Catalog
    from index.compare.diff import Options, compare, default_pair, diff_text, rules_for

    collection = _collection(collection_dir)
    config = collection.load_config() if collection.config_path.exists() else None
    with Catalog.open(collection) as catalog:
        a, b = default_pair(catalog, url, from_ts, to_ts)
    options = Options(full=full or None, ignore_case=ignore_case,
                      ignore_whitespace=not count_breaks, rules=rules_for(config, b.url))
    result = compare(collection, a, b, options)
    if evidence:
        from index.wacz.evidence import diff_evidence
        from web.diff import page_requisites

        written = diff_evidence(collection, a, b, evidence, options=options,
                                find=page_requisites)
        click.echo(f"evidence: {written.path} ({written.captures} captures, "
                   f"{written.bytes} bytes, signed)", err=True)
    if as_json:
        print_json(result)
        return
    click.echo(diff_text(result, colour=sys.stdout.isatty() and "NO_COLOR" not in os.environ))


@cli.command()
@collection_option
@click.option("--from", "from_crawl", metavar="CRAWL", help="The earlier crawl.")
@click.option("--to", "to_crawl", metavar="CRAWL", help="The later crawl.")
@json_option
def changes(collection_dir: str, from_crawl: str | None, to_crawl: str | None,
            as_json: bool) -> None:
    """What changed across the network between two crawls (default: the last two), each
    changed page with its first changes; links are absolute when the config's [web]
    base_url says where the web UI is."""
    from index.compare.changes import change_report, changes_notes, changes_text

    collection = _collection(collection_dir)
    config = collection.load_config() if collection.config_path.exists() else None
    report = change_report(collection, from_crawl, to_crawl, config)
    if as_json:
        print_json(report)
        return
    for note in changes_notes(report):
        click.echo(note, err=True)
    click.echo(changes_text(report, config.web.base_url.rstrip("/") if config else ""))


@cli.command()
@collection_option
@click.argument("name", required=False)
@click.option("--incomplete", is_flag=True,
              help="Include incomplete crawls (stopped early, or a site not reached), marked.")
@click.option("--evidence", metavar="FILE.wacz", type=click.Path(dir_okay=False),
              help="Also write NAME's evidence package: a signed WACZ of the captures where "
                   "the phrase appeared or disappeared, with their requisites, and its "
                   "history.")
@json_option
def watch(collection_dir: str, name: str | None, incomplete: bool, evidence: str | None,
          as_json: bool) -> None:
    """A watched phrase (NAME, from the network config's [[watch]]) in every crawl: pages
    carrying it per site, and where it appeared or disappeared. Without NAME, every one."""
    from index.compare.watch import find_watch, watch_history, watch_text

    collection = _collection(collection_dir)
    config = collection.load_config()
    if evidence:
        from index.wacz.evidence import watch_evidence
        from web.diff import page_requisites

        if not name:
            raise _Failure("--evidence proves one watched phrase: name it (palimpsest "
                           "watch NAME --evidence FILE.wacz)", 2)
        written = watch_evidence(collection, find_watch(config, name), evidence,
                                 incomplete=incomplete, find=page_requisites)
        click.echo(f"evidence: {written.path} ({written.captures} captures, "
                   f"{written.bytes} bytes, signed)", err=True)
    watches = [find_watch(config, name)] if name else list(config.watch)
    histories = [watch_history(collection, w, incomplete=incomplete) for w in watches]
    if as_json:
        print_json(histories[0] if name else histories)
        return
    click.echo(watch_text(histories))


def main(args: list[str] | None = None) -> int:
    """Run the command line with `args` (default sys.argv); return the exit code."""
    try:
        # without standalone mode click returns (not raises) the code of an Exit raised in
        # a command; commands themselves return None
        code = cli.main(args=args, prog_name="palimpsest", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        return 130
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except BrokenPipeError:
        return 0
    return code if isinstance(code, int) else 0


def _collection(collection_dir: str) -> Collection:
    return Collection.locate(collection_dir)


# commands kept in modules of their own register themselves on `cli` when imported
from palimpsest import cli_share, cli_watching, cli_workers  # noqa: E402, F401

if __name__ == "__main__":
    # `python -m palimpsest.cli` runs this file as __main__: the commands of the modules
    # above registered on palimpsest.cli's group, the one to run
    from palimpsest.cli import main as package_main

    sys.exit(package_main())
