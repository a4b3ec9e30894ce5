"""What a WACZ export reads from the catalog (index/catalog.py): the captures a selection
names, with the records they need (a revisit's original, a browser capture's DOM and
screenshots), where each record sits among its file's neighbours, and the pages with text.

A selection lives in a temporary table of the catalog's connection (`export_ids`), so that
however many captures it names, none is held in Python: the export reads them back in file
order, a row at a time. `Catalog` takes these methods from `CatalogExport`.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator
from typing import NamedTuple

from index.catalog_records import CDX_ONLY_COLUMNS, CdxOnlyRow

_LIVE = "(c.status IS NULL OR c.status BETWEEN 200 AND 299)"
# a WACZ's index gives timestamps to the millisecond (index.timestamps.precise_timestamp)
_CDX = ", ".join("precise_timestamp(c.timestamp, c.warc_date)" if name == "timestamp"
                 else f"c.{name}" for name in CDX_ONLY_COLUMNS)


class ExportRecord(NamedTuple):
    """One catalogued record to export, with its CDXJ fields and the span around it that
    holds the records written with it and not catalogued (its request, its metadata)."""

    record_id: str | None
    concurrent_to: str | None
    gap_before: int  # where the uncatalogued records before this one begin
    gap_after: int | None  # where the next catalogued record begins; None: the file's end
    cdx: CdxOnlyRow  # its CDXJ fields, where it is now

    @property
    def warc_file(self) -> str:
        return self.cdx.warc_file

    @property
    def offset(self) -> int:
        return self.cdx.offset

    @property
    def length(self) -> int:
        return self.cdx.length


class PageRow(NamedTuple):
    """A page of pages.jsonl: a live capture with an extracted text."""

    id: int
    url: str
    timestamp: str
    warc_date: str
    text_key: str


class ExportSelection(NamedTuple):
    """The filters a selection is made of, each None when not given (see index.wacz)."""

    crawl: str | None = None
    site: str | None = None
    from_ts: str | None = None  # 14 digits, inclusive
    to_ts: str | None = None
    surt_range: tuple[str, str] | None = None  # [start, end) of SURT keys


class CatalogExport:
    """The catalog's reads for an export, on `self._db`."""

    _db: sqlite3.Connection

    def select_for_export(self, filters: ExportSelection, ids: Iterable[int] | None = None
                          ) -> int:
        """Fill `export_ids` with the captures that match every filter given (and, when
        `ids` is given, are among them), as pages; then with the records those need, not as
        pages. Returns how many captures the selection itself names."""
        db = self._db
        db.execute("DROP TABLE IF EXISTS temp.export_ids")
        db.execute("CREATE TEMP TABLE export_ids (id INTEGER PRIMARY KEY, page INTEGER)")
        where, args = _filters(filters)
        if ids is not None:
            db.execute("CREATE TEMP TABLE IF NOT EXISTS export_wanted (id INTEGER PRIMARY KEY)")
            db.execute("DELETE FROM temp.export_wanted")
            db.executemany("INSERT OR IGNORE INTO temp.export_wanted VALUES (?)",
                           ((int(i),) for i in ids))
            where.append("c.id IN (SELECT id FROM temp.export_wanted)")
        named = db.execute("INSERT INTO temp.export_ids SELECT c.id, 1 FROM captures AS c "
                           f"WHERE {' AND '.join(where) or '1'}", args).rowcount
        # a revisit's original (its payload's record), then whatever was written concurrent
        # to a selected record (a browser capture's DOM and screenshots), in any file
        db.execute("""INSERT OR IGNORE INTO temp.export_ids SELECT p.id, 0
            FROM temp.export_ids AS e JOIN captures AS c ON c.id = e.id
            JOIN captures AS p ON p.warc_file = c.payload_file AND p.offset = c.payload_offset
            WHERE c.record_type = 'revisit'""")
        db.execute("""INSERT OR IGNORE INTO temp.export_ids SELECT r.id, 0
            FROM captures AS r WHERE r.concurrent_to IS NOT NULL AND r.concurrent_to IN (
                SELECT c.record_id FROM temp.export_ids AS e JOIN captures AS c ON c.id = e.id
                WHERE c.record_id IS NOT NULL)""")
        return max(named, 0)

    def sites(self) -> list[str]:
        """Every site the catalog files captures under, by name."""
        return [site for (site,) in self._db.execute(
            "SELECT DISTINCT site FROM captures WHERE site IS NOT NULL ORDER BY site")]

    def export_records(self) -> Iterator[ExportRecord]:
        """Every record of the selection, file by file in record order, with the spans of
        uncatalogued records around it."""
        rows = self._db.execute(f"""
            WITH files AS (SELECT DISTINCT c.warc_file FROM temp.export_ids AS e
                           JOIN captures AS c ON c.id = e.id),
            spans AS (SELECT c.id, LAG(c.offset + c.length, 1, 0) OVER win AS gap_before,
                      LEAD(c.offset) OVER win AS gap_after FROM captures AS c
                      WHERE c.warc_file IN (SELECT warc_file FROM files)
                      WINDOW win AS (PARTITION BY c.warc_file ORDER BY c.offset))
            SELECT c.record_id, c.concurrent_to, s.gap_before, s.gap_after, {_CDX}
            FROM temp.export_ids AS e JOIN captures AS c ON c.id = e.id
            JOIN spans AS s ON s.id = c.id ORDER BY c.warc_file, c.offset""")
        for row in rows:
            yield ExportRecord(*row[:4], CdxOnlyRow(*row[4:]))

    def export_pages(self, *, selected: bool) -> Iterator[PageRow]:
        """The pages of the selection (or, not `selected`, of the whole catalog) that have
        an extracted text: live captures, no urn: record, by URL and time."""
        join = "JOIN temp.export_ids AS e ON e.id = c.id AND e.page = 1" if selected else ""
        rows = self._db.execute(f"""
            SELECT c.id, c.url, c.timestamp, c.warc_date, c.text_key FROM captures AS c {join}
            WHERE c.text_key IS NOT NULL AND {_LIVE} AND c.url NOT LIKE 'urn:%'
            AND c.record_type IN ('response', 'revisit', 'resource')
            ORDER BY c.url, c.timestamp, c.id""")
        for row in rows:
            yield PageRow(*row)


# each filter of an ExportSelection, as the condition it puts on a capture `c`
_CONDITIONS = (("crawl", "c.crawl = ?"), ("site", "c.site = ?"),
               ("from_ts", "c.timestamp >= ?"), ("to_ts", "c.timestamp <= ?"),
               ("surt_range", "c.surt >= ? AND c.surt < ?"))


def _filters(filters: ExportSelection) -> tuple[list[str], list[object]]:
    """The WHERE conditions and their arguments of the filters given."""
    where: list[str] = []
    args: list[object] = []
    for name, condition in _CONDITIONS:
        value = getattr(filters, name)
        if value is not None:
            where.append(condition)
            args.extend(value if isinstance(value, tuple) else (value,))
    return where, args
