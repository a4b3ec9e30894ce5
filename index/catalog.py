"""The capture catalog: one SQLite row per capture, as docs/catalog-contract.md lays it out.

It lives in `<collection>/derived/catalog.sqlite` in WAL mode, so the web UI and the crawler
read it while `palimpsest index` writes it. Every lookup the product makes (a URL's captures,
the capture nearest a time, a crawl, a digest, a SURT range) is served by an index. The rows
are written by index.indexer only, one WARC file per transaction, so a killed indexer leaves
each file either wholly catalogued or not at all.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator
from dataclasses import fields
from itertools import groupby
from pathlib import Path
from typing import Any

from index.catalog_export import CatalogExport
from index.catalog_records import CDX_ONLY_COLUMNS, Capture, CapturedUrl
from index.catalog_writes import DOM_RANGE, RENDERINGS_PENDING_SQL, CatalogWrites
from index.collection import Collection
from index.errors import CaptureNotFound, CatalogOutOfDate, UsageError
from index.surt_key import MATCH_TYPES, match_range, surt_key
from index.timestamps import pad_timestamp, precise_timestamp, timestamp_time

# the meta key naming the full-text engine that holds the catalog's texts
ENGINE_META = "fulltext_engine"
CATALOG_NAME = "catalog.sqlite"
# PRAGMA user_version of the catalog's schema; _migrate brings an older one up to it
CATALOG_VERSION = 2
# columns added since the first schema (version 0), in the order they were added
_ADDED_COLUMNS = (("concurrent_to", "TEXT"), ("dom_file", "TEXT"), ("dom_offset", "INTEGER"),
                  ("dom_length", "INTEGER"), ("dom_digest", "TEXT"))
_CAPTURE_SQL = ", ".join(f.name for f in fields(Capture))
_SCHEMA = """
CREATE TABLE IF NOT EXISTS captures (
    id INTEGER PRIMARY KEY,
    url TEXT NOT NULL, surt TEXT NOT NULL, timestamp TEXT NOT NULL, warc_date TEXT NOT NULL,
    record_type TEXT NOT NULL, status INTEGER, mime TEXT, digest TEXT,
    length INTEGER NOT NULL, offset INTEGER NOT NULL, warc_file TEXT NOT NULL,
    payload_file TEXT, payload_offset INTEGER, payload_length INTEGER,
    crawl TEXT NOT NULL, site TEXT, record_id TEXT, text_key TEXT,
    -- what a revisit names as its original, kept to resolve it when that record turns up
    refers_to TEXT, refers_to_uri TEXT, refers_to_date TEXT,
    -- the mime and status exactly as cdxj-indexer writes them (a revisit's: warc/revisit)
    cdx_mime TEXT, cdx_status TEXT,
    -- WARC-Concurrent-To; and for a browser capture, where its rendered DOM is (the urn:dom:
    -- resource concurrent to it), set by link_renderings
    concurrent_to TEXT, dom_file TEXT, dom_offset INTEGER, dom_length INTEGER, dom_digest TEXT
);
CREATE UNIQUE INDEX IF NOT EXISTS captures_record ON captures (warc_file, offset);
CREATE INDEX IF NOT EXISTS captures_url ON captures (url, timestamp);
CREATE INDEX IF NOT EXISTS captures_surt ON captures (surt, timestamp);
CREATE INDEX IF NOT EXISTS captures_crawl ON captures (crawl);
CREATE INDEX IF NOT EXISTS captures_digest ON captures (digest);
-- covers the search join (text_key -> url, time, status, site) from the index alone
CREATE INDEX IF NOT EXISTS captures_text ON captures (text_key, url, timestamp, status, site);
CREATE INDEX IF NOT EXISTS captures_record_id ON captures (record_id);
CREATE INDEX IF NOT EXISTS captures_unresolved ON captures (id) WHERE payload_file IS NULL;
-- a page's rendered DOM (and screenshots) by the page's record id
CREATE INDEX IF NOT EXISTS captures_concurrent ON captures (concurrent_to)
    WHERE concurrent_to IS NOT NULL;
-- records cdxj-indexer lists that are not captures (metadata other than warc-fields)
CREATE TABLE IF NOT EXISTS cdx_only (
    surt TEXT NOT NULL, timestamp TEXT NOT NULL, url TEXT NOT NULL, cdx_mime TEXT,
    cdx_status TEXT, digest TEXT, length INTEGER NOT NULL, offset INTEGER NOT NULL,
    warc_file TEXT NOT NULL, PRIMARY KEY (warc_file, offset)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS warc_files (
    path TEXT PRIMARY KEY, size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL,
    crawl TEXT NOT NULL, records INTEGER NOT NULL, damaged INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS damage (
    warc_file TEXT NOT NULL, offset INTEGER NOT NULL, what TEXT NOT NULL, resumed_at INTEGER
);
-- which (url, payload digest) pairs have had their text extracted, and the document it gave
CREATE TABLE IF NOT EXISTS texts (
    url TEXT NOT NULL, digest TEXT NOT NULL, text_key TEXT, PRIMARY KEY (url, digest)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
""" + RENDERINGS_PENDING_SQL + ";"


def captures_of(collection: Collection, url: str) -> list[Capture]:
    """Every capture of `url` in `collection`, oldest first; CaptureNotFound if none."""
    with Catalog.open(collection) as catalog:
        found = catalog.captures(url)
    if not found:
        raise CaptureNotFound(f"no capture of {url} in {collection.root}")
    return found


class Catalog(CatalogWrites, CatalogExport):
    """A collection's capture catalog, open for reading, (see CatalogWrites) for the
    indexer's writes and (see CatalogExport) for a WACZ export's reads."""

    def __init__(self, db: sqlite3.Connection, collection: Collection) -> None:
        self._db = db
        self.collection = collection

    @classmethod
    def open(cls, collection: Collection) -> Catalog:
        """Open (creating it if needed) the catalog of `collection`, empty and in memory while
        the collection has no WARC files; UsageError if there is no collection directory."""
        if not collection.root.is_dir():
            raise UsageError(f"no collection at {collection.root} (give --collection DIR, or "
                             "create one with `palimpsest init` or `palimpsest add`)")
        path = collection.derived_dir / CATALOG_NAME
        # autocommit mode: writers say BEGIN themselves, readers never hold a transaction open
        if not path.exists() and next(collection.warc_files(), None) is None:
            # nothing to catalogue yet: an empty catalog in memory answers, and no command
            # leaves an empty derived/ behind (the first WARC file makes the real one)
            db = sqlite3.connect(":memory:", isolation_level=None)
        else:
            collection.derived_dir.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(path, timeout=60, isolation_level=None)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
        db.executescript(_SCHEMA)
        _migrate(db)
        db.create_function("precise_timestamp", 2, precise_timestamp, deterministic=True)
        return cls(db, collection)

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Catalog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- lookups ---------------------------------------------------------------------------

    def captures(self, url: str) -> list[Capture]:
        """Every capture of `url`, oldest first. URLs match by SURT key, as in Wayback
        machines: http and https, `www.`, and query-argument order do not separate them."""
        return self._select("surt = ? ORDER BY timestamp, id", surt_key(url))

    def nearest(self, url: str, timestamp: str) -> Capture | None:
        """The capture of `url` closest in time to `timestamp` (4-14 digits); on a tie, the
        earlier one. None if the URL has no capture."""
        ts = pad_timestamp(timestamp)
        key = surt_key(url)
        before = self._select("surt = ? AND timestamp <= ? ORDER BY timestamp DESC, id DESC "
                              "LIMIT 1", key, ts)
        after = self._select("surt = ? AND timestamp > ? ORDER BY timestamp, id LIMIT 1",
                             key, ts)
        found = before + after
        if not found:
            return None
        moment = timestamp_time(ts)
        return min(found, key=lambda c: abs(timestamp_time(c.timestamp) - moment))

    def by_crawl(self, crawl: str) -> list[Capture]:
        """Every capture of one crawl, by URL then time."""
        return self._select("crawl = ? ORDER BY url, timestamp, id", crawl)

    def by_digest(self, digest: str) -> list[Capture]:
        """Every capture whose payload digest is `digest`, oldest first."""
        return self._select("digest = ? ORDER BY timestamp, id", digest)

    def query(self, url: str, match_type: str | None = None, *, from_ts: str | None = None,
              to_ts: str | None = None, limit: int | None = None) -> list[Capture]:
        """Captures whose SURT key `match_type` selects for `url`, by key then time, as pywb's
        CDX server orders them. Without a match type, `*.example.com` means domain and a
        trailing `*` means prefix, else exact. `from_ts`/`to_ts` bound the time (inclusive)."""
        if match_type is None:
            match_type = "exact"
            if url.startswith("*."):
                url, match_type = url[2:], "domain"
            elif url.endswith("*"):
                url, match_type = url[:-1], "prefix"
        if match_type not in MATCH_TYPES:
            raise UsageError(f"matchType must be one of {', '.join(MATCH_TYPES)}, "
                             f"not {match_type!r}")
        start, end = match_range(url, match_type)
        where, args = "surt >= ? AND surt < ?", [start, end]
        if from_ts:
            where, args = where + " AND timestamp >= ?", [*args, pad_timestamp(from_ts)]
        if to_ts:
            # an upper bound like 2024 means "to the end of 2024"
            where, args = where + " AND timestamp <= ?", [*args, pad_timestamp(to_ts, up=True)]
        where += " ORDER BY surt, timestamp, id"
        if limit is not None:
            where, args = where + " LIMIT ?", [*args, int(limit)]
        return self._select(where, *args)

    def prefix(self, url: str, **bounds: Any) -> list[Capture]:
        """Captures of every URL beginning with `url` (matchType=prefix)."""
        return self.query(url, "prefix", **bounds)

    def captured_urls(self, url: str, match_type: str, *, limit: int, offset: int = 0
                      ) -> list[CapturedUrl]:
        """The URLs whose SURT key `match_type` selects for `url` (as `query` does), in key
        order from `offset`, at most `limit`: each with its capture count, first and last
        capture. URLs that share a SURT key (http and https, `www.`) are one, as in
        `captures`. Stops reading at the last URL asked for, however many the range holds."""
        start, end = match_range(url, match_type)
        rows = self._db.execute(
            "SELECT MIN(url), COUNT(*), MIN(timestamp), MAX(timestamp) FROM captures "
            "WHERE surt >= ? AND surt < ? GROUP BY surt ORDER BY surt LIMIT ? OFFSET ?",
            (start, end, limit, offset))
        return [CapturedUrl(*row) for row in rows]

    def count_captured_urls(self, url: str, match_type: str, *, up_to: int) -> int:
        """How many URLs `captured_urls` would list, counted up to `up_to` at most."""
        start, end = match_range(url, match_type)
        return self._db.execute(
            "SELECT COUNT(*) FROM (SELECT 1 FROM captures WHERE surt >= ? AND surt < ? "
            "GROUP BY surt LIMIT ?)", (start, end, up_to)).fetchone()[0]

    def crawls(self) -> list[str]:
        """Every crawl (and imported batch) with captures, oldest first."""
        rows = self._db.execute("SELECT crawl FROM captures GROUP BY crawl "
                               "ORDER BY MIN(timestamp), crawl")
        return [crawl for (crawl,) in rows]

    def latest_payloads(self) -> Iterator[tuple[str, str, str | None, str | None]]:
        """(url, payload digest, URL and WARC-Date of the record holding that payload) of
        the latest 2xx response or revisit of every URL. For a revisit the record named is
        the response it resolved to, whichever URL that was captured at, so that a new
        revisit refers to the payload directly, never to another revisit; (None, None) for
        a revisit whose payload the collection does not hold."""
        rows = self._db.execute("""
            SELECT c.url, c.digest, p.url, p.warc_date FROM (
                SELECT url, digest, payload_file, payload_offset, ROW_NUMBER()
                    OVER (PARTITION BY url ORDER BY timestamp DESC, id DESC) AS newest
                FROM captures WHERE record_type IN ('response', 'revisit')
                AND status BETWEEN 200 AND 299 AND digest IS NOT NULL) AS c
            LEFT JOIN captures AS p ON p.warc_file = c.payload_file
                AND p.offset = c.payload_offset AND p.record_type = 'response'
            WHERE c.newest = 1 ORDER BY c.url""")
        yield from rows

    def payload_history(self) -> Iterator[tuple[str, str, str]]:
        """`latest_payloads()` of the whole collection, for a crawl to write revisits against.
        CatalogOutOfDate, naming a file, unless the catalog holds every closed WARC file as
        it is on disk: a history with a crawl missing would store its payloads twice."""
        stale = self.files_out_of_date()
        if stale:
            more = f" and {len(stale) - 1} more" if len(stale) > 1 else ""
            raise CatalogOutOfDate(f"the catalog does not hold {stale[0]}{more} as on disk: "
                                   "run `palimpsest index`, then crawl again")
        return self.latest_payloads()

    def files_out_of_date(self) -> list[str]:
        """The WARC files (relative to the collection) that are new, changed or gone since
        the catalog last read them, in path order."""
        held = self.indexed_files()
        on_disk = {}
        for path in self.collection.warc_files():
            stat = path.stat()
            on_disk[path.relative_to(self.collection.root).as_posix()] = (stat.st_size,
                                                                         stat.st_mtime_ns)
        return sorted(rel for rel in held.keys() | on_disk.keys()
                      if held.get(rel) != on_disk.get(rel))

    def captures_in_file(self, warc_file: str) -> list[Capture]:
        """Every capture catalogued from the WARC `warc_file`, in record order."""
        return self._select("warc_file = ? ORDER BY offset", warc_file)

    def count(self) -> int:
        """How many captures the catalog holds."""
        return self._db.execute("SELECT COUNT(*) FROM captures").fetchone()[0]

    def all_captures(self) -> Iterator[Capture]:
        """Every capture, file by file in record order."""
        cursor = self._db.execute(f"SELECT {_CAPTURE_SQL} FROM captures "
                                 "ORDER BY warc_file, offset")
        for row in cursor:
            yield Capture(*row)

    def visits_by_url(self) -> Iterator[tuple[str, list[Capture]]]:
        """Every URL's response and revisit captures, oldest first, a URL at a time in URL
        order (by the URL index: one URL's captures in memory, never the whole catalog)."""
        cursor = self._db.execute(
            f"SELECT {_CAPTURE_SQL} FROM captures WHERE record_type IN ('response', 'revisit') "
            "ORDER BY url, timestamp, id")
        for url, rows in groupby((Capture(*row) for row in cursor), key=lambda c: c.url):
            yield url, list(rows)

    def cdx_entries(self, *, precise: bool = False) -> Iterator[tuple]:
        """(surt, timestamp, url, mime, status, digest, length, offset, warc_file) of every
        record cdxj-indexer would list, ordered by `surt timestamp` as text; with `precise`
        the timestamps have 17 digits (index.timestamps.precise_timestamp), as a WACZ's
        index needs them."""
        columns = ", ".join(CDX_ONLY_COLUMNS)
        captures, others = columns, columns
        if precise:
            captures = columns.replace(
                "timestamp", "precise_timestamp(timestamp, warc_date) AS timestamp")
            others = columns.replace("timestamp", "timestamp || '000' AS timestamp")
        yield from self._db.execute(f"""
            SELECT {columns} FROM (
                SELECT {captures} FROM captures UNION ALL SELECT {others} FROM cdx_only)
            ORDER BY surt || ' ' || timestamp""")

    def page_resources(self, pages: Iterable[Capture], kind: str) -> dict[int, Capture]:
        """The `urn:<kind>:<page url>` resource record a browser capture wrote with each of
        these page captures (`dom`, `fullPage`, `thumbnail`), by page capture id: the one
        whose WARC-Concurrent-To is the page's record id."""
        by_url: dict[str, dict[str, list[int]]] = {}
        for page in pages:
            if page.record_id:
                by_url.setdefault(page.url, {}).setdefault(page.record_id, []).append(page.id)
        found: dict[int, Capture] = {}
        for url, records in by_url.items():
            rows = self._db.execute(
                f"SELECT concurrent_to, {_CAPTURE_SQL} FROM captures WHERE url = ? "
                "AND record_type = 'resource' AND concurrent_to IS NOT NULL ORDER BY id",
                (f"urn:{kind}:{url}",))
            for concurrent_to, *row in rows:
                for page_id in records.get(concurrent_to, ()):
                    found[page_id] = Capture(*row)
        return found

    def _select(self, where: str, *args: Any) -> list[Capture]:
        rows = self._db.execute(f"SELECT {_CAPTURE_SQL} FROM captures WHERE {where}", args)
        return [Capture(*row) for row in rows]

    # -- what search reads (index.search.service, index.search.text_captures) -------------

    def has_captured_texts(self) -> bool:
        """Whether any capture has a text in the full-text index."""
        return self._db.execute(
            "SELECT 1 FROM captures WHERE text_key IS NOT NULL LIMIT 1").fetchone() is not None

    def dates_and_crawls(self, ids: list[int]) -> dict[int, tuple[str, str]]:
        """The WARC-Date and crawl of each of these captures, by capture id."""
        marks = ", ".join("?" * len(ids))
        return {row[0]: row[1:] for row in self._db.execute(
            f"SELECT id, warc_date, crawl FROM captures WHERE id IN ({marks})", ids)}

    def live_captures_of_texts(self, text_keys: Iterable[str]
                               ) -> list[tuple[str, str, str | None, str, int]]:
        """(text key, URL, site, timestamp, id) of the live captures (2xx, or without HTTP
        status) of these texts, by text, time and id."""
        with _TempKeys(self._db, text_keys):
            # CROSS JOIN keeps the keys as the outer loop: one index probe per text
            return self._db.execute(f"""
                SELECT c.text_key, c.url, c.site, c.timestamp, c.id FROM temp_keys AS k
                CROSS JOIN captures AS c ON c.text_key = k.key WHERE {_LIVE}
                ORDER BY c.text_key, c.timestamp, c.id""").fetchall()

    def capture_times(self, urls: Iterable[str]) -> list[tuple[str, str]]:
        """(URL, timestamp) of every capture of these URLs as written (any status), by URL
        and time."""
        with _TempKeys(self._db, urls):
            return self._db.execute("""
                SELECT c.url, c.timestamp FROM temp_keys AS k
                CROSS JOIN captures AS c ON c.url = k.key
                ORDER BY c.url, c.timestamp""").fetchall()

    def captures_by_text(self) -> list[tuple[str | None, str, str | None, str, int, int]]:
        """(text key, URL, site, timestamp, id, whether live) of every capture, by text key,
        time and id."""
        return self._db.execute(f"""
            SELECT text_key, url, site, timestamp, id, {_LIVE} FROM captures
            ORDER BY text_key, timestamp, id""").fetchall()


def upgraded(path: Path) -> None:
    """Bring the catalog file at `path` up to CATALOG_VERSION if an older version wrote it,
    for readers that open it read-only (search): a search on a collection indexed before an
    upgrade answers instead of failing on a column the old schema lacks."""
    probe = sqlite3.connect(path.as_uri() + "?mode=ro", uri=True)
    try:
        current = probe.execute("PRAGMA user_version").fetchone()[0] >= CATALOG_VERSION
    finally:
        probe.close()
    if current:
        return
    db = sqlite3.connect(path, timeout=60, isolation_level=None)
    try:
        _migrate(db)
    finally:
        db.close()


def _migrate(db: sqlite3.Connection) -> None:
    """Bring a catalog written by an older version up to CATALOG_VERSION. Version 1 adds
    WARC-Concurrent-To and the rendered DOM's location: the files holding rendered DOMs are
    read again (their rows are replaced, their texts kept), so that their pages get tied.
    Version 2 ties pages to their DOMs for the files stored since the last run only
    (`renderings_pending`): the files holding DOMs are marked pending, once."""
    if db.execute("PRAGMA user_version").fetchone()[0] >= CATALOG_VERSION:
        return
    db.execute("BEGIN IMMEDIATE")
    try:
        have = {row[1] for row in db.execute("PRAGMA table_info(captures)")}
        for name, kind in _ADDED_COLUMNS:
            if name not in have:
                db.execute(f"ALTER TABLE captures ADD COLUMN {name} {kind}")
        if "concurrent_to" not in have:
            db.execute(f"""DELETE FROM warc_files WHERE path IN (SELECT warc_file FROM captures
                          WHERE {DOM_RANGE})""")
            # a DOM was once a page of its own in search; it no longer is
            db.execute("DELETE FROM texts WHERE url LIKE 'urn:%'")
            db.execute("UPDATE captures SET text_key = NULL WHERE url LIKE 'urn:%'")
        db.execute(RENDERINGS_PENDING_SQL)
        db.execute(f"INSERT OR IGNORE INTO renderings_pending SELECT DISTINCT warc_file "
                   f"FROM captures WHERE {DOM_RANGE}")
        db.execute(f"PRAGMA user_version = {CATALOG_VERSION}")
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise


# a capture that shows what the network said: answered 2xx, or without HTTP status
_LIVE = "(status IS NULL OR status BETWEEN 200 AND 299)"


class _TempKeys:
    """A temporary table `temp_keys(key)` holding `keys`, dropped on exit."""

    def __init__(self, db: sqlite3.Connection, keys: Iterable[str]) -> None:
        self._db, self.keys = db, keys

    def __enter__(self) -> None:
        self._db.execute("CREATE TEMP TABLE temp_keys (key TEXT PRIMARY KEY) WITHOUT ROWID")
        self._db.executemany("INSERT OR IGNORE INTO temp_keys VALUES (?)",
                            ((k,) for k in self.keys))

    def __exit__(self, *exc: object) -> None:
        self._db.execute("DROP TABLE temp.temp_keys")
