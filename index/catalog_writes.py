"""What the indexer writes into the catalog (index/catalog.py): a WARC file's rows, one file per
transaction; revisits resolved to their payloads; captures refiled under their sites; which
document each (URL, payload) gave the full-text index; the catalog's meta values.

`Catalog` takes these methods from `CatalogWrites`; it holds the connection (`_db`).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable

from index.catalog_records import (
    CDX_ONLY_COLUMNS,
    ROW_COLUMNS,
    CaptureRow,
    CdxOnlyRow,
    TextLink,
    TextSource,
)
from index.timestamps import warc_date_timestamp

# the rows of the rendered DOMs a browser capture writes (urn:dom:<page url> resources), as a
# range of the url index; and what is cut from such a URL to give the page's
DOM_PREFIX = "urn:dom:"
DOM_RANGE = "url >= 'urn:dom:' AND url < 'urn:dom;'"
# what search, diffs and reports take for pages: no urn: record (a DOM, a screenshot) is one
_NOT_URN = "url NOT LIKE 'urn:%'"
# the WARC files stored (or whose pages lost their DOM) since link_renderings last ran: the
# only ones it reads again
RENDERINGS_PENDING_SQL = ("CREATE TABLE IF NOT EXISTS renderings_pending "
                          "(warc_file TEXT PRIMARY KEY) WITHOUT ROWID")
# the DOM resources link_renderings examines: those in pending files, and those concurrent to
# an untied page of a pending file (a DOM may be in an earlier or a later file than its page)
_PENDING_DOMS = f"""
    SELECT id, url, concurrent_to, warc_file, offset, length, digest FROM captures
    WHERE warc_file IN (SELECT warc_file FROM renderings_pending)
    AND {DOM_RANGE} AND record_type = 'resource' AND concurrent_to IS NOT NULL
    UNION
    SELECT d.id, d.url, d.concurrent_to, d.warc_file, d.offset, d.length, d.digest
    FROM renderings_pending AS f
    JOIN captures AS p ON p.warc_file = f.warc_file
    JOIN captures AS d ON d.concurrent_to = p.record_id
    WHERE p.dom_file IS NULL AND p.record_type IN ('response', 'revisit')
    AND d.url >= 'urn:dom:' AND d.url < 'urn:dom;' AND d.record_type = 'resource'"""
# the digest a capture's text is read from (docs/catalog-contract.md): its DOM's, else its own
TEXT_DIGEST = "coalesce(dom_digest, digest)"


class CatalogWrites:
    """The catalog's writes (and the reads only the indexer makes), on `self._db`."""

    _db: sqlite3.Connection

    def indexed_files(self) -> dict[str, tuple[int, int]]:
        """{path relative to the collection: (size, mtime_ns)} of every catalogued WARC."""
        rows = self._db.execute("SELECT path, size, mtime_ns FROM warc_files")
        return {path: (size, mtime) for path, size, mtime in rows}

    def store_file(self, path: str, size: int, mtime_ns: int, crawl: str,
                   rows: Iterable[CaptureRow], cdx_only: Iterable[CdxOnlyRow],
                   damage: Iterable[tuple[int, str, int | None]]) -> int:
        """Replace everything catalogued from the WARC `path` with `rows`, `cdx_only` and
        its damage reports (offset, what, resumed at), in one transaction. Returns the
        number of captures stored."""
        with self.transaction():
            if self._db.execute("SELECT 1 FROM warc_files WHERE path = ? AND size = ? AND "
                               "mtime_ns = ?", (path, size, mtime_ns)).fetchone():
                return 0  # another indexer got there first
            self._forget(path)
            stored = self._db.executemany(
                f"INSERT INTO captures ({', '.join(ROW_COLUMNS)}) "
                f"VALUES ({', '.join('?' * len(ROW_COLUMNS))})", rows).rowcount
            self._db.executemany(
                f"INSERT INTO cdx_only ({', '.join(CDX_ONLY_COLUMNS)}) "
                f"VALUES ({', '.join('?' * len(CDX_ONLY_COLUMNS))})", cdx_only)
            damage = list(damage)
            self._db.execute("INSERT OR IGNORE INTO renderings_pending VALUES (?)", (path,))
            self._db.executemany("INSERT INTO damage VALUES (?, ?, ?, ?)",
                                [(path, *d) for d in damage])
            self._db.execute("INSERT INTO warc_files VALUES (?, ?, ?, ?, ?, ?)",
                            (path, size, mtime_ns, crawl, max(stored, 0), len(damage)))
        return max(stored, 0)

    def forget_file(self, path: str) -> None:
        """Drop everything catalogued from the WARC `path` (it was deleted)."""
        with self.transaction():
            self._forget(path)

    def _forget(self, path: str) -> None:
        for table in ("captures", "cdx_only", "damage"):
            self._db.execute(f"DELETE FROM {table} WHERE warc_file = ?", (path,))
        self._db.execute("DELETE FROM warc_files WHERE path = ?", (path,))
        # revisits whose payload was in that file must be resolved again
        self._db.execute("UPDATE captures SET payload_file = NULL, payload_offset = NULL, "
                        "payload_length = NULL WHERE payload_file = ?", (path,))
        # and pages whose rendered DOM was in it tied again (their text was the DOM's): their
        # files are pending again
        self._db.execute("DELETE FROM renderings_pending WHERE warc_file = ?", (path,))
        self._db.execute("INSERT OR IGNORE INTO renderings_pending SELECT DISTINCT warc_file "
                        "FROM captures WHERE dom_file = ?", (path,))
        self._db.execute("UPDATE captures SET dom_file = NULL, dom_offset = NULL, "
                        "dom_length = NULL, dom_digest = NULL, text_key = NULL "
                        "WHERE dom_file = ?", (path,))

    def transaction(self) -> _Transaction:
        """A write transaction: committed on success, rolled back on any exception."""
        return _Transaction(self._db)

    def resolve_revisits(self) -> tuple[int, int]:
        """Point every unresolved revisit at the record holding its payload: the record it
        names (WARC-Refers-To, or Refers-To-Target-URI + Refers-To-Date), else a capture of
        the same URL with the same digest, else any capture with that digest. A revisit
        without HTTP headers takes status and mime from it. Returns (resolved, left)."""
        db = self._db
        pending = db.execute(
            "SELECT id, url, timestamp, digest, refers_to, refers_to_uri, refers_to_date, "
            "warc_file FROM captures WHERE payload_file IS NULL AND record_type = 'revisit'"
        ).fetchall()
        source = ("SELECT payload_file, payload_offset, payload_length, status, mime "
                  "FROM captures WHERE payload_file IS NOT NULL AND ")
        # should a record be copied into two files, the one beside the revisit wins; by
        # digest, captures up to the revisit's time first, the nearest: what a recrawl saw
        near = (" ORDER BY timestamp <= ? DESC, warc_file = ? DESC, abs(timestamp - ?), id "
                "LIMIT 1")
        resolved = 0
        with self.transaction():
            for rid, url, ts, digest, refers_to, ref_uri, ref_date, warc_file in pending:
                found = None
                if refers_to:
                    found = db.execute(source + "record_id = ? ORDER BY warc_file = ? DESC, "
                                       "id LIMIT 1", (refers_to, warc_file)).fetchone()
                ref_ts = warc_date_timestamp(ref_date)
                if not found and ref_uri and ref_ts:
                    found = db.execute(
                        source + "url = ? AND timestamp = ? ORDER BY warc_date = ? DESC, "
                        "warc_file = ? DESC, id LIMIT 1",
                        (ref_uri.strip("<>"), ref_ts, ref_date, warc_file)).fetchone()
                if not found and digest:
                    found = (db.execute(source + "url = ? AND digest = ?" + near,
                                        (url, digest, ts, warc_file, ts)).fetchone()
                             or db.execute(source + "digest = ?" + near,
                                           (digest, ts, warc_file, ts)).fetchone())
                if found:
                    db.execute("UPDATE captures SET payload_file = ?, payload_offset = ?, "
                               "payload_length = ?, status = coalesce(status, ?), "
                               "mime = coalesce(mime, ?) WHERE id = ?", (*found, rid))
                    resolved += 1
        return resolved, len(pending) - resolved

    def link_renderings(self) -> tuple[int, int]:
        """Tie every browser capture of the files stored since the last call (the pending
        ones) not yet tied to its rendered DOM: the `urn:dom:<its URL>` resource whose
        WARC-Concurrent-To is its record id (in whichever file). A page newly tied loses the
        text link its shell gave it: the full-text pass then reads its text from the DOM.
        Files stay pending until this has run, so a run killed before it leaves them to the
        next. Returns (DOM records examined, pages tied): (0, 0) when no file is pending."""
        with self.transaction():
            if self._db.execute("SELECT 1 FROM renderings_pending LIMIT 1").fetchone() is None:
                return 0, 0
            self._db.execute(f"CREATE TEMP TABLE pending_doms AS {_PENDING_DOMS}")
            try:
                examined = self._db.execute("SELECT COUNT(*) FROM pending_doms").fetchone()[0]
                tied = max(self._db.execute(f"""
                    UPDATE captures SET dom_file = d.warc_file, dom_offset = d.offset,
                        dom_length = d.length, dom_digest = d.digest, text_key = NULL
                    FROM temp.pending_doms AS d
                    WHERE captures.record_id = d.concurrent_to
                    AND captures.url = substr(d.url, {len(DOM_PREFIX) + 1})
                    AND captures.record_type IN ('response', 'revisit')
                    AND captures.dom_file IS NULL""").rowcount, 0)
                self._db.execute("DELETE FROM renderings_pending")
            finally:
                self._db.execute("DROP TABLE temp.pending_doms")
        return examined, tied

    def refile_sites(self, site_of: Callable[[str], str | None], *, config_digest: str
                     ) -> None:
        """Give every capture the site `site_of` its URL, and remember `config_digest` as
        the network config the sites come from, in one transaction."""
        with self.transaction():
            urls = [url for (url,) in self._db.execute("SELECT DISTINCT url FROM captures")]
            self._db.executemany("UPDATE captures SET site = ? WHERE url = ?",
                                [(site_of(url), url) for url in urls])
            self.set_meta("config_digest", config_digest)

    # -- what the full-text pass reads and writes --------------------------------------------

    def texts_to_extract(self, mimes: Iterable[str], *, missing_only: bool
                         ) -> list[TextSource]:
        """Each text-bearing (URL, payload digest) of a 2xx capture (or a status-less
        resource) whose mime is one of `mimes`, in file order; with `missing_only`, of those
        whose text was not extracted yet. A browser capture's text is its rendered DOM's:
        (its URL, the DOM's digest) and where the DOM is. No urn: record (a DOM, a
        screenshot) has a text of its own: none is a page."""
        mimes = sorted(mimes)
        missing = """AND text_key IS NULL AND NOT EXISTS (SELECT 1 FROM texts AS t
            WHERE t.url = c.url AND t.digest = coalesce(c.dom_digest, c.digest))"""
        rows = self._db.execute(f"""
            SELECT url, {TEXT_DIGEST} AS text_digest, coalesce(dom_file, payload_file),
                coalesce(dom_offset, payload_offset), coalesce(dom_length, payload_length),
                CASE WHEN dom_file IS NULL THEN mime ELSE 'text/html' END, site
            FROM captures AS c WHERE payload_file IS NOT NULL
            AND digest IS NOT NULL AND mime IN ({", ".join("?" * len(mimes))})
            AND (status BETWEEN 200 AND 299 OR (status IS NULL AND record_type = 'resource'))
            AND {_NOT_URN} {missing if missing_only else ""}
            GROUP BY url, text_digest ORDER BY 3, 4""", mimes)
        return [TextSource(*row) for row in rows]

    def has_texts(self) -> bool:
        """Whether any (URL, payload) has given a full-text document."""
        return self._db.execute(
            "SELECT 1 FROM texts WHERE text_key IS NOT NULL LIMIT 1").fetchone() is not None

    def apply_known_texts(self) -> None:
        """Give captures of an already extracted (URL, payload) its document, in one
        transaction."""
        with self.transaction():
            self._db.execute(f"""UPDATE captures SET text_key = (SELECT t.text_key FROM texts AS t
                               WHERE t.url = captures.url
                               AND t.digest = coalesce(captures.dom_digest, captures.digest))
                               WHERE text_key IS NULL AND digest IS NOT NULL
                               AND {_NOT_URN}""")

    def record_texts(self, links: Iterable[TextLink]) -> None:
        """Record which document each (URL, payload digest) gave, for the pair and for
        every capture of it (inside the caller's transaction)."""
        links = list(links)
        self._db.executemany("INSERT OR REPLACE INTO texts VALUES (?, ?, ?)", links)
        self._db.executemany(f"UPDATE captures SET text_key = ? WHERE url = ? AND "
                            f"{TEXT_DIGEST} = ?",
                            [(key, url, digest) for url, digest, key in links])

    def forget_texts(self) -> None:
        """Forget every document link (inside the caller's transaction): a full-text index
        rebuilt from scratch records them all again."""
        self._db.execute("DELETE FROM texts")
        self._db.execute("UPDATE captures SET text_key = NULL")

    def get_meta(self, key: str) -> str | None:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def set_meta(self, key: str, value: str) -> None:
        self._db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))


class _Transaction:
    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def __enter__(self) -> None:
        # IMMEDIATE: take the write lock now, so a second indexer waits instead of failing
        self._db.execute("BEGIN IMMEDIATE")

    def __exit__(self, kind: type | None, *rest: object) -> None:
        if kind is None:
            self._db.execute("COMMIT")
        elif self._db.in_transaction:  # (SQLite has rolled back itself after a full disk)
            self._db.execute("ROLLBACK")
