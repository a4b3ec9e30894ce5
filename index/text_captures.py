"""Which captures show each text: the catalog rows that search needs, held in memory.

A query that matches most of a large archive matches most of its captures too: at 100,000
captures, joining every matching text to its captures in SQLite and grouping the rows took
~1 s a query. Here those rows are read once per process, per text and per URL, on first use,
and reused by every later search until the catalog changes (a long-running web server pays
once; a one-off CLI search reads only what its query needs). Search then groups texts, not
captures.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Collection
from dataclasses import dataclass, field
from itertools import groupby
from operator import itemgetter
from pathlib import Path

# above this many texts not yet read, read the whole catalog in one scan (faster than the
# join per text, and every later search finds everything there)
FULL_READ = 2000
LIVE = "(status IS NULL OR status BETWEEN 200 AND 299)"


@dataclass(frozen=True, slots=True)
class Shown:
    """The live captures (2xx or without HTTP status) that show one text. A text belongs to
    one URL (its key hashes the URL), so all its captures have one URL and one site."""

    url: str
    site: str | None
    stamps: tuple[str, ...]  # 14-digit timestamps, oldest first
    ids: tuple[int, ...]  # the captures' ids, in the same order
    months: frozenset[str]  # the stamps' YYYYMM


@dataclass
class Urls:
    """Every URL that has a live capture of a text, numbered, in columns indexed by number:
    counting over numbers and small shared objects is what makes `_by_url` in index.search
    fast (no tuple hashing, no string comparisons)."""

    name: list[str] = field(default_factory=list)
    site: list[str | None] = field(default_factory=list)
    keys: list[tuple[str, ...]] = field(default_factory=list)  # its texts with live captures
    periods: list[tuple[int, ...]] = field(default_factory=list)  # its (site, month) numbers
    period: list[tuple[str | None, str]] = field(default_factory=list)  # number -> (site, YYYYMM)
    period_number: dict[tuple[str | None, str], int] = field(default_factory=dict)

    def add(self, url: str, site: str | None, keys: tuple[str, ...],
            months: frozenset[str]) -> int:
        for month in months:
            if (site, month) not in self.period_number:
                self.period_number[site, month] = len(self.period)
                self.period.append((site, month))
        self.name.append(url)
        self.site.append(site)
        self.keys.append(keys)
        self.periods.append(tuple(self.period_number[site, m] for m in sorted(months)))
        return len(self.name) - 1


class TextCaptures:
    """One catalog's captures per text and capture times per URL, as far as read so far.
    Shared by the threads of a process: reads and fills take a lock. Once the whole catalog
    has been read (`complete()`), `shown`, `url_of` and `urls` hold every text and URL."""

    def __init__(self, stamp: tuple) -> None:
        self.stamp = stamp
        self.shown: dict[str, Shown | None] = {}  # None: the text has no live capture
        self.url_of: dict[str, int] = {}  # text key -> its URL's number in `urls`
        self.urls = Urls()
        self._url_times: dict[str, tuple[str, ...]] = {}
        self._complete = False
        self._lock = threading.Lock()

    def complete(self, db: sqlite3.Connection) -> TextCaptures:
        """This object, with the whole catalog read."""
        with self._lock:
            if not self._complete:
                self._read_all(db)
        return self

    def texts(self, db: sqlite3.Connection, keys: Collection[str]) -> dict[str, Shown | None]:
        """A mapping that answers `.get(key)` for every key of `keys` with its live
        captures, or None if it has none. Read-only for the caller."""
        with self._lock:
            if not self._complete:
                missing = [k for k in keys if k not in self.shown]
                if len(missing) > FULL_READ:
                    self._read_all(db)
                elif missing:
                    self._read_texts(db, missing)
            return self.shown

    def url_times(self, db: sqlite3.Connection, urls: Collection[str]
                  ) -> dict[str, tuple[str, ...]]:
        """A mapping holding, for every URL of `urls`, the timestamps of all its captures
        (any status), oldest first: what "as of" needs to know which capture stood then."""
        with self._lock:
            if not self._complete:
                missing = [u for u in urls if u not in self._url_times]
                if len(missing) > FULL_READ:
                    self._read_all(db)
                elif missing:
                    with _temp_keys(db, missing):
                        rows = db.execute("""
                            SELECT c.url, c.timestamp FROM temp_keys AS k
                            CROSS JOIN captures AS c ON c.url = k.key
                            ORDER BY c.url, c.timestamp""").fetchall()
                    self._url_times.update(
                        (url, tuple(t for _, t in group))
                        for url, group in groupby(rows, itemgetter(0)))
                    self._url_times.update((u, ()) for u in missing
                                           if u not in self._url_times)
            return self._url_times

    def _read_texts(self, db: sqlite3.Connection, keys: list[str]) -> None:
        with _temp_keys(db, keys):
            # CROSS JOIN keeps the keys as the outer loop: one index probe per text
            rows = db.execute(f"""
                SELECT c.text_key, c.url, c.site, c.timestamp, c.id FROM temp_keys AS k
                CROSS JOIN captures AS c ON c.text_key = k.key WHERE {LIVE}
                ORDER BY c.text_key, c.timestamp, c.id""").fetchall()
        self.shown.update(_shown(rows))
        self.shown.update((k, None) for k in keys if k not in self.shown)

    def _read_all(self, db: sqlite3.Connection) -> None:
        rows = db.execute(f"""
            SELECT text_key, url, site, timestamp, id, {LIVE} FROM captures
            ORDER BY text_key, timestamp, id""").fetchall()
        times: dict[str, list[str]] = {}
        for row in rows:
            times.setdefault(row[1], []).append(row[3])
        self._url_times = {url: tuple(sorted(t)) for url, t in times.items()}
        # complete: a text missing here has no live capture (callers look up with .get)
        self.shown = _shown([r for r in rows if r[0] is not None and r[5]])
        by_url: dict[str, list[str]] = {}
        for key, text in self.shown.items():
            by_url.setdefault(text.url, []).append(key)
        self.urls = Urls()
        for url, keys in by_url.items():
            number = self.urls.add(url, self.shown[keys[-1]].site, tuple(keys),
                                   frozenset().union(*(self.shown[k].months for k in keys)))
            self.url_of.update((k, number) for k in keys)
        self._complete = True


def _shown(rows: list[tuple]) -> dict[str, Shown]:
    """Rows of (text_key, url, site, timestamp, id, ...) sorted by key and time, per text."""
    shown = {}
    for key, group in groupby(rows, itemgetter(0)):
        captures = list(group)
        stamps = tuple(r[3] for r in captures)
        last = captures[-1]
        shown[key] = Shown(last[1], last[2], stamps, tuple(r[4] for r in captures),
                           frozenset(t[:6] for t in stamps))
    return shown


class _temp_keys:  # noqa: N801 (used as a context manager, like a function)
    """A temporary table `temp_keys(key)` holding `keys`, dropped on exit."""

    def __init__(self, db: sqlite3.Connection, keys: list[str]) -> None:
        self.db, self.keys = db, keys

    def __enter__(self) -> None:
        self.db.execute("CREATE TEMP TABLE temp_keys (key TEXT PRIMARY KEY) WITHOUT ROWID")
        self.db.executemany("INSERT OR IGNORE INTO temp_keys VALUES (?)",
                            ((k,) for k in self.keys))

    def __exit__(self, *exc: object) -> None:
        self.db.execute("DROP TABLE temp.temp_keys")


_CACHES: dict[Path, TextCaptures] = {}
_CACHES_LOCK = threading.Lock()


def for_catalog(path: Path) -> TextCaptures:
    """The process's captures of the catalog at `path`, new if the catalog changed since
    (its file or its write-ahead log has another size or modification time)."""
    stamp = _stamp(path)
    with _CACHES_LOCK:
        cache = _CACHES.get(path)
        if cache is None or cache.stamp != stamp:
            cache = _CACHES[path] = TextCaptures(stamp)
        return cache


def _stamp(path: Path) -> tuple:
    # taken before reading: a change during a read gives a new stamp next time, never an
    # old stamp on new rows
    stamps = []
    for file in (path, path.with_name(path.name + "-wal")):
        try:
            info = file.stat()
        except FileNotFoundError:
            stamps.append(None)
            continue
        stamps.append((info.st_mtime_ns, info.st_size, info.st_ino))
    return tuple(stamps)
