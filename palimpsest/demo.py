"""`palimpsest demo`: the bundled sample network, crawled at revision 1 and at revision 2,
then indexed and served, opening on the change report between the two: offline, so a newcomer
sees at once what Palimpsest keeps and what it notices."""

from __future__ import annotations

import shutil
import subprocess
import sys

import click

from index.changes import change_report
from index.collection import Collection
from index.indexer import IndexSummary, update
from palimpsest.sample_network import SampleNetwork
from palimpsest.setup import write_config


def crawl_command(collection: Collection, *extra: str) -> list[str]:
    """The `palimpsest crawl` command line for `collection`, run as a child process (Scrapy's
    reactor runs once per process)."""
    return [sys.executable, "-m", "palimpsest.cli", "crawl", "--collection",
            str(collection.root), *extra]


def crawl_both_revisions(collection: Collection, *, delay: str = "0", verbose: bool = False
                         ) -> IndexSummary:
    """Crawl the sample network at revision 1, then at revision 2, into `collection`, and index
    both crawls: the demo's collection (also what the benches measure against)."""
    with SampleNetwork(revision=1) as network:
        write_config(collection, (), network.url)
        for revision in (1, 2):
            network.set_revision(revision)
            if verbose:
                click.secho(f"\n== crawling the sample network at revision {revision}",
                            bold=True)
            done = subprocess.run(crawl_command(collection, "--delay", delay),
                                  capture_output=not verbose)
            if done.returncode != 0:
                raise click.ClickException(f"crawl of revision {revision} failed")
    if verbose:
        click.secho("\n== indexing both crawls (catalog and full text)", bold=True)
    return update(collection, progress=verbose)


def run_demo(collection: Collection, *, serve: bool = True, port: int = 8080) -> None:
    """Crawl the sample network twice into `collection` (emptied first), index it, and serve
    the web UI over it (unless `serve` is false)."""
    if collection.root.exists():
        shutil.rmtree(collection.root)
    click.echo(str(crawl_both_revisions(collection, delay="0.05", verbose=True)))
    click.echo(f"\nThe collection is in {collection.root}")
    report = change_report(collection)
    watch = report["watch"].get("disclosure", {})
    click.secho("\n== what changed between the two crawls", bold=True)
    click.echo(f"{len(report['added'])} page added, {len(report['removed'])} removed, "
               f"{len(report['changed'])} changed, {report['unchanged']} unchanged; the "
               f"disclosure line disappeared from {len(watch.get('disappeared', []))} pages "
               f"({', '.join(sorted({m['site'] for m in watch.get('disappeared', [])}))})")
    if serve:
        from web import serve as serve_web

        address = f"http://127.0.0.1:{port}/changes"
        click.secho(f"\n== Palimpsest is serving the demo at {address} (Ctrl-C to stop)",
                    bold=True)
        serve_web(collection.root, "127.0.0.1", port)
