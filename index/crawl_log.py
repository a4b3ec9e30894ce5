"""Reading a crawl's log: the JSON lines crawler/crawl_log.py appends to
`<collection>/crawls/<crawl id>/crawl-log.jsonl`, one per URL the crawl met (captured,
excluded or failed, and why). The crawl summary and the change report both read it here.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from index.collection import Collection
from index.errors import UsageError

LOG_NAME = "crawl-log.jsonl"


def log_entries(path: Path) -> Iterator[dict[str, Any]]:
    """Every entry of the crawl log at `path`, in order. A line torn by a kill (the last
    one, cut off mid-write) is skipped: the WARCs hold the record of truth."""
    with open(path, encoding="utf-8") as lines:
        for line in lines:
            try:
                yield json.loads(line)
            except json.JSONDecodeError:
                continue


def crawl_entries(collection: Collection, crawl: str) -> Iterator[dict[str, Any]]:
    """The entries of crawl `crawl`'s log; none for an imported batch, or a crawl folder
    without a log."""
    try:
        path = collection.crawl_dir(crawl) / LOG_NAME
    except UsageError:
        return
    if path.is_file():
        yield from log_entries(path)
