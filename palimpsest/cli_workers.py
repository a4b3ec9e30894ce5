"""Commands for crawls shared through Redis: worker (issue 16).

Imported by palimpsest/cli.py at its end; each command registers itself on its `cli` group.
"""

from __future__ import annotations

import sys

import click

from palimpsest.cli import _collection, cli, collection_option


@cli.command()
@collection_option
@click.option("--frontier", required=True, metavar="redis://HOST:PORT/DB",
              help="The Redis database holding the crawl (started by `crawl --frontier`).")
@click.option("--wait", is_flag=True,
              help="If Redis holds no crawl still running, wait for one to start (workers "
                   "started ahead of `crawl --frontier`).")
def worker(collection_dir: str, frontier: str, wait: bool) -> None:
    """Join the shared crawl in Redis as one more worker: its WARC files and log go into
    this collection's crawl folder; it exits once the whole crawl is done."""
    from crawler.distributed.run import join_shared_crawl
    from crawler.report import format_summary

    result = join_shared_crawl(_collection(collection_dir), frontier,
                               progress=sys.stderr.isatty(), wait=wait)
    click.echo(format_summary(result.summary))
    click.echo(f"this worker's WARCs in {result.crawl_dir}")
    if not result.finished:
        click.echo("worker stopped before the crawl finished: the other workers (or a new "
                   "`palimpsest worker`) take its leased URLs once their lease expires",
                   err=True)
        raise click.exceptions.Exit(1)
