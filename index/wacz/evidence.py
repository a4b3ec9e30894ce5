"""Evidence packages: a signed WACZ that proves what a page said, to someone who does not run
Palimpsest.

A diff's package holds the two captures with their page requisites as captured, the
comparison (`evidence/diff.jsonl`), its receipt (`evidence/receipt.jsonl`: the records and the
command that re-runs it) and the comparison rendered as one self-contained page
(`evidence/diff.htm`: inline CSS, no script, nothing loaded from anywhere). A watched
phrase's package holds the captures on each side of every appearance and disappearance, with
their requisites, the phrase's history (`evidence/watch.jsonl`) and its page
(`evidence/watch.htm`). Both are signed with the collection's key (index/wacz/signing.py),
so `palimpsest verify` or any WACZ verifier (ReplayWeb.page) tells whether a byte changed.

A page's requisites are the records the archive replays it with: each stylesheet, script,
image and icon its HTML names (found by the `find` function the caller gives: the web
layer's parser, which replay uses too), at its capture nearest the page's time, and what the
crawl fetched for the page (its crawl log's requisites `via` the page: fonts and images a
stylesheet loads, a browser's requests). The writer adds what those records need (a
revisit's original, a browser capture's DOM and screenshots).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable
from itertools import islice
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape

from index import __version__
from index.catalog import Capture, Catalog
from index.collection import Collection
from index.compare.diff import Options, compare
from index.compare.watch import watch_history
from index.config import Watch
from index.crawl_log import crawl_entries
from index.errors import CaptureNotFound, DamagedRecord, UsageError
from index.extract import HTML_TYPES, MAX_TEXT_BYTES, charset_of, decode
from index.timestamps import iso_date
from index.wacz.selection import Selection
from index.wacz.writer import ExportSummary, export_wacz
from index.warc_reader import read_payload

# (decoded HTML, the page's URL) -> the absolute URLs of what the page loads
RequisiteFinder = Callable[[str, str], Iterable[str]]

MAX_REQUISITES = 400  # per page: a package stays the size of a few pages
MAX_MOVES = 200  # appearances and disappearances a watch package proves, at most
# py-wacz's validator has frictionless read every resource whose name ends in .json or .html
# as a table, and refuses a package where it cannot: the JSON files are JSON Lines of one
# object each (a table of one row), the pages .htm (which browsers open as HTML all the same)
RECEIPT = "evidence/receipt.jsonl"
DIFF_JSON = "evidence/diff.jsonl"
DIFF_HTML = "evidence/diff.htm"
WATCH_JSON = "evidence/watch.jsonl"
WATCH_HTML = "evidence/watch.htm"
_TEMPLATES = Environment(loader=FileSystemLoader(Path(__file__).parent / "templates"),
                         autoescape=select_autoescape(default=True), trim_blocks=True,
                         lstrip_blocks=True)


def diff_evidence(collection: Collection, a: Capture, b: Capture,
                  out_path: str | os.PathLike, *, options: Options | None = None,
                  find: RequisiteFinder | None = None, sign: bool = True) -> ExportSummary:
    """Write the evidence package of the comparison of `a` (older) with `b` at `out_path`
    (`options`: how to compare, the defaults of `palimpsest diff` if None)."""
    result = compare(collection, a, b, options or Options())
    with Catalog.open(collection) as catalog:
        captures = with_requisites(collection, catalog, [a, b], find)
    extra = {RECEIPT: _json(result["receipt"]), DIFF_JSON: _json(result),
             DIFF_HTML: _render("evidence_diff.html", diff=result, a=a, b=b,
                                files=[RECEIPT, DIFF_JSON, DIFF_HTML], software=_software())}
    pages = [_page(a, result["from"].get("title")), _page(b, result["to"].get("title"))]
    return export_wacz(collection, out_path, Selection(captures=captures),
                       title=f"Evidence: what changed at {b.url}", extra_files=extra,
                       sign=sign, pages=pages)


def watch_evidence(collection: Collection, watch: Watch, out_path: str | os.PathLike, *,
                   incomplete: bool = False, find: RequisiteFinder | None = None,
                   sign: bool = True) -> ExportSummary:
    """Write the evidence package of a watched phrase's history at `out_path`: the captures
    before and after each page where it appeared or disappeared. UsageError if it never
    did (there is no change to prove)."""
    history = watch_history(collection, watch, incomplete=incomplete)
    moves = [(crawl["crawl"], kind, move) for crawl in history["crawls"]
             for kind in ("disappeared", "appeared") for move in crawl[kind]][:MAX_MOVES]
    if not moves:
        raise UsageError(f"watch {watch.name!r}: the phrase neither appeared nor "
                         "disappeared on any page in the crawls compared: no change to prove")
    with Catalog.open(collection) as catalog:
        shown = [_exact(catalog, move["url"], move[side]) for _, _, move in moves
                 for side in ("from", "to")]
        captures = with_requisites(collection, catalog, shown, find)
    extra = {WATCH_JSON: _json(history),
             WATCH_HTML: _render("evidence_watch.html", history=history, moves=moves,
                                 files=[WATCH_JSON, WATCH_HTML], software=_software())}
    pages = list({c.id: _page(c, None) for c in shown}.values())
    return export_wacz(collection, out_path, Selection(captures=captures),
                       title=f"Evidence: the watched phrase {watch.name!r}",
                       extra_files=extra, sign=sign, pages=pages)


def with_requisites(collection: Collection, catalog: Catalog, pages: list[Capture],
                    find: RequisiteFinder | None) -> list[Capture]:
    """`pages` and the captures of their requisites (see the module's docstring), each once,
    pages first."""
    chosen: dict[int, Capture] = {page.id: page for page in pages}
    for page in pages:
        for url in islice(requisite_urls(collection, page, find), MAX_REQUISITES):
            found = catalog.nearest(url, page.timestamp)
            if found is not None:
                chosen.setdefault(found.id, found)
    return list(chosen.values())


def requisite_urls(collection: Collection, page: Capture,
                   find: RequisiteFinder | None) -> list[str]:
    """What `page` loads: what its HTML names (by `find`), then what its crawl fetched for
    it, each URL once."""
    urls: list[str] = []
    if find is not None and page.has_payload and page.mime in HTML_TYPES:
        try:
            head, body = read_payload(collection.inside(page.payload_file),
                                      page.payload_offset, page.payload_length,
                                      limit=MAX_TEXT_BYTES)
        except DamagedRecord as exc:
            raise DamagedRecord(f"{page.url} at {page.timestamp}: {exc}") from None
        text = decode(body, charset_of(head.get_header("Content-Type")), html=True)
        urls += islice(find(text, page.url), MAX_REQUISITES)
    urls += (entry["url"] for entry in crawl_entries(collection, page.crawl)
             if entry.get("reason") == "requisite" and entry.get("via") == page.url
             and isinstance(entry.get("url"), str))
    return list(dict.fromkeys(urls))


def _exact(catalog: Catalog, url: str, timestamp: str) -> Capture:
    found = catalog.nearest(url, timestamp)
    if found is None or found.timestamp != timestamp:
        raise CaptureNotFound(f"no capture of {url} at {timestamp}")
    return found


def _page(capture: Capture, title: str | None) -> dict[str, Any]:
    """The package's page list entry for a capture (what ReplayWeb.page lists and opens)."""
    return {"url": capture.url, "ts": iso_date(capture.warc_date, capture.timestamp),
            "title": title or capture.url}


def _software() -> str:
    return f"Palimpsest {__version__}"


def _json(value: Any) -> bytes:
    """`value` as a JSON Lines file of one line."""
    return (json.dumps(value, ensure_ascii=False, default=str) + "\n").encode()


def _render(template: str, **context: Any) -> bytes:
    return _TEMPLATES.get_template(template).render(**context).encode("utf-8")
