"""Commands for sharing and proving: export, and the verify of WACZ packages (issue 14).

Imported by palimpsest/cli.py at its end; each command registers itself on its `cli` group.
"""

from __future__ import annotations

import click

from palimpsest.cli import _collection, cli, collection_option, json_option, print_json


@cli.command("export")
@collection_option
@click.argument("wacz", metavar="FILE.wacz", type=click.Path(dir_okay=False))
@click.option("--crawl", help="Only this crawl's captures (its id, e.g. 20261125061729).")
@click.option("--site", help="Only this site's captures.")
@click.option("--from", "date_from", metavar="DATE", help="Captured on or after DATE.")
@click.option("--to", "date_to", metavar="DATE", help="Captured on or before DATE.")
@click.option("--url-prefix", metavar="URL", help="Only URLs beginning with URL.")
@click.option("--query", metavar="Q", help="Only the captures a search for Q finds.")
@click.option("--sign/--no-sign", default=False, show_default=True,
              help="Sign the package with the collection's key.")
@click.option("--title", help="The package's title.")
@json_option
def export(collection_dir: str, wacz: str, crawl: str | None, site: str | None,
           date_from: str | None, date_to: str | None, url_prefix: str | None,
           query: str | None, sign: bool, title: str | None, as_json: bool) -> None:
    """Write the collection, or the captures the options select, as a WACZ file (for
    ReplayWeb.page, pywb, or `palimpsest add` elsewhere)."""
    from index.wacz.selection import Selection
    from index.wacz.writer import export_wacz

    selection = Selection(crawl=crawl, site=site, date_from=date_from, date_to=date_to,
                          url_prefix=url_prefix, query=query)
    summary = export_wacz(_collection(collection_dir), wacz, selection, title=title,
                          sign=sign)
    if as_json:
        print_json(summary.to_json())
        return
    click.echo(f"{summary.path}: {summary.captures} captures ({summary.records} records "
               f"indexed, {summary.pages} pages) in {summary.warc_files} WARC files, "
               f"{summary.bytes / 1e6:.1f} MB{', signed' if summary.signed else ''}")
