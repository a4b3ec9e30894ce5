"""indexes/index.cdx.gz as ZipNum blocks, with indexes/index.idx, as py-wacz writes them.

index.cdx.gz is the sorted CDXJ cut into blocks of `LINES_PER_BLOCK` lines, each block one
gzip member; index.idx holds a `!meta` line, then one line per block: the block's first
key (`surt timestamp`) and its offset, length and sha256 in index.cdx.gz. A replay tool
(ReplayWeb.page, pywb) binary-searches the idx and reads the one block a lookup needs, so
a large archive opens without reading its whole index.

The lines are sorted on disk (a scratch SQLite table), never held in memory.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import zlib
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import BinaryIO

# py-wacz writes 1024 lines a block (archiveweb.page's size); the spec's example 3000
LINES_PER_BLOCK = 3000
CDX_NAME = "index.cdx.gz"
IDX_META = "!meta 0 " + json.dumps({"format": "cdxj-gzip-1.0", "filename": CDX_NAME}) + "\n"
_BATCH = 5000


class SortedLines:
    """CDXJ lines added in any order, read back sorted as text (as cdxj-indexer --sort and
    `palimpsest cdxj` order them), duplicates dropped; kept in `directory`."""

    def __init__(self, directory: Path) -> None:
        self._db = sqlite3.connect(directory / "cdx-lines.sqlite", isolation_level=None)
        self._db.execute("PRAGMA journal_mode=OFF")
        self._db.execute("PRAGMA synchronous=OFF")
        self._db.execute("PRAGMA temp_store=FILE")
        self._db.execute("CREATE TABLE lines (line TEXT NOT NULL)")
        self._pending: list[tuple[str]] = []
        self.count = 0

    def add(self, line: str) -> None:
        self._pending.append((line,))
        self.count += 1
        if len(self._pending) >= _BATCH:
            self._flush()

    def __iter__(self) -> Iterator[str]:
        self._flush()
        last = None
        for (line,) in self._db.execute("SELECT line FROM lines ORDER BY line"):
            if line != last:
                yield line
            last = line

    def close(self) -> None:
        self._db.close()

    def _flush(self) -> None:
        if self._pending:
            self._db.execute("BEGIN")
            self._db.executemany("INSERT INTO lines VALUES (?)", self._pending)
            self._db.execute("COMMIT")
            self._pending = []


def write_zipnum(lines: Iterable[str], cdx_out: Callable[[bytes], object], idx_out: BinaryIO,
                 *, lines_per_block: int | None = None) -> int:
    """Write sorted `lines` (without newlines) as gzip blocks of `lines_per_block` (default
    LINES_PER_BLOCK) through `cdx_out`, and their idx lines into `idx_out`; returns the
    number of blocks."""
    lines_per_block = lines_per_block or LINES_PER_BLOCK
    idx_out.write(IDX_META.encode())
    block: list[str] = []
    offset = blocks = 0
    for line in lines:
        block.append(line)
        if len(block) == lines_per_block:
            offset += _write_block(block, offset, cdx_out, idx_out)
            blocks, block = blocks + 1, []
    if block:
        _write_block(block, offset, cdx_out, idx_out)
        blocks += 1
    return blocks


def _write_block(block: list[str], offset: int, cdx_out: Callable[[bytes], object],
                 idx_out: BinaryIO) -> int:
    gzip = zlib.compressobj(6, zlib.DEFLATED, 31)
    member = gzip.compress("".join(f"{line}\n" for line in block).encode()) + gzip.flush()
    cdx_out(member)
    key = block[0].split("{", 1)[0].strip()
    entry = {"offset": offset, "length": len(member),
             "digest": "sha256:" + hashlib.sha256(member).hexdigest()}
    idx_out.write(f"{key} {json.dumps(entry)}\n".encode())
    return len(member)
