"""pages/pages.jsonl: one JSON line per page (url, ts, title, id, and the extracted text
that ReplayWeb.page's search reads), under the json-pages-1.0 header.

The texts come from the full-text index (what `palimpsest index` extracted), read a batch
of pages at a time, so the list is written however many pages there are.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator
from itertools import islice
from typing import Any

from index.catalog_export import PageRow
from index.collection import Collection
from index.config import NetworkConfig
from index.search.engine import StoredText
from index.search.engines import let_go_of_indexes, open_index
from index.search.query_cost import Budget
from index.timestamps import iso_date

PAGES_PATH = "pages/pages.jsonl"
PAGES_HEADER = {"format": "json-pages-1.0", "id": "pages", "title": "All Pages",
                "hasText": True}
_BATCH = 500  # pages, and so at most as many texts (~30 kB each as Python strings) at once


def page_id(url: str, ts: str) -> str:
    """A page's id: the same page of the same capture gets the same one in every export."""
    return hashlib.sha256(f"{ts} {url}".encode()).hexdigest()[:32]


def page_lines(collection: Collection, rows: Iterable[PageRow]) -> Iterator[bytes]:
    """The header line, then one line per page of `rows` (by URL and time) with its title,
    and its text unless the page before is the same URL with the same text (a recrawl of an
    unchanged page: ReplayWeb.page finds its text in the earlier page; the list would
    otherwise hold each text once per crawl)."""
    yield _line(PAGES_HEADER)
    rows = iter(rows)
    before = None
    config = collection.config_if_any()
    while batch := list(islice(rows, _BATCH)):
        stored = _stored_texts(collection, config, batch)
        for row in batch:
            text = stored.get(row.text_key)
            ts = iso_date(row.warc_date, row.timestamp)
            page = {"id": page_id(row.url, ts), "url": row.url, "ts": ts,
                    "title": (text.title if text else "") or row.url}
            if (row.url, row.text_key) != before:
                page["text"] = text.full_text if text else ""
            before = (row.url, row.text_key)
            yield _line(page)


def _stored_texts(collection: Collection, config: NetworkConfig | None,
                  batch: list[PageRow]) -> dict[str, StoredText]:
    """The stored texts of a batch of pages, from the engine opened for this batch alone:
    an engine maps its files into memory, and what a read touched stays resident while it is
    open, so reading every text through one would hold the whole index in memory."""
    try:
        with open_index(collection, config) as engine:
            return engine.stored(list(dict.fromkeys(r.text_key for r in batch)),
                                 Budget(seconds=600))
    finally:
        let_go_of_indexes()


def given_page_lines(pages: Iterable[dict[str, Any]]) -> Iterator[bytes]:
    """The header, then the pages a caller gives (each with url and ts at least; an id
    is made for a page without one)."""
    yield _line(PAGES_HEADER)
    for page in pages:
        yield _line({"id": page.get("id") or page_id(page["url"], page["ts"]), **page})


def _line(obj: dict[str, Any]) -> bytes:
    return (json.dumps(obj, ensure_ascii=False) + "\n").encode()
