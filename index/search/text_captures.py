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
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from itertools import groupby, repeat
from operator import itemgetter
from pathlib import Path

import numpy as np

from index.catalog import Catalog, upgraded
from index.file_stamp import catalog_stamp
from index.search.engine import Matches, text_key_of, text_number

# above this many texts not yet read, read the whole catalog in one scan (faster than the
# join per text, and every later search finds everything there)
FULL_READ = 2000


@dataclass(frozen=True, slots=True)
class LiveCaptures:
    """The live captures (2xx or without HTTP status) that show one text. A text belongs to
    one URL (its key hashes the URL), so all its captures have one URL and one site."""

    url: str
    site: str | None
    stamps: tuple[str, ...]  # 14-digit timestamps, oldest first
    ids: tuple[int, ...]  # the captures' ids, in the same order


@dataclass(frozen=True)
class CaptureColumns:
    """The live captures of every text, in numpy columns, in order of text row, then time."""

    row: np.ndarray  # the text's row
    time: np.ndarray  # the timestamp as a number (14 digits)
    id: np.ndarray  # the capture's id in the catalog
    url: np.ndarray  # the URL's number
    site: np.ndarray  # the text's site number
    period: np.ndarray  # the number of (the text's site, the capture's month)
    url_period: np.ndarray  # the number of (URL, period)
    first: np.ndarray  # text row -> where its captures begin (one more: the end)

    def of_rows(self, rows: np.ndarray) -> np.ndarray:
        """The positions of the captures of these text rows (each text's together, oldest
        first): as many steps as they have captures, however large the catalog."""
        starts, counts = self.first[rows], self.first[rows + 1] - self.first[rows]
        ends = np.cumsum(counts)
        return np.arange(ends[-1] if len(ends) else 0) + np.repeat(starts - ends + counts,
                                                                    counts)


@dataclass(frozen=True)
class Columns:
    """The whole catalog's live texts (as rows), URLs (as numbers, in the order of the URLs'
    strings), sites and captures, in numpy columns: whatever a query matches, index.search.grouping
    then filters, groups and counts its captures in a few vector operations, not a Python
    loop over the matches."""

    shown: dict[int, LiveCaptures]  # text number -> its live captures
    numbers: list[int]  # row -> text number
    url_name: list[str]  # URL number -> URL
    url_site: np.ndarray  # URL number -> site number
    site_number: dict[str | None, int]
    period: list[tuple[str | None, str]]  # period number -> (site, YYYYMM)
    period_of_url_period: np.ndarray  # (URL, period) number -> period number
    captures: CaptureColumns
    # every capture of these URLs, whatever its status, in order of URL and time: what
    # "as of" needs to know which capture stood at a date
    all_url: np.ndarray
    all_time: np.ndarray
    # the text numbers' high 64 and low 32 bits, sorted, and the row of each
    sorted_high: np.ndarray
    sorted_low: np.ndarray
    sorted_row: np.ndarray

    def rows(self, matches: Matches) -> np.ndarray:
        """The row of each match's text, -1 for a text without a live capture: a binary
        search of the sorted high halves, checked on the low ones (a dictionary lookup per
        match costs 3 ms at 23,000 matches; this, 1)."""
        if not len(self.sorted_high):
            return np.full(len(matches), -1, np.int64)
        # sorted first: the binary searches then walk memory in order (2x faster)
        order = np.argsort(matches.high)
        at = np.empty(len(matches), np.int64)
        at[order] = np.searchsorted(self.sorted_high, matches.high[order])
        at[at == len(self.sorted_high)] = 0
        found = (self.sorted_high[at] == matches.high) & (self.sorted_low[at] == matches.low)
        if not found.all() and np.any(self.sorted_high[1:] == self.sorted_high[:-1]):
            # two texts share their high halves (once in ~10^13 pairs): look each up
            row_of = {n: row for row, n in enumerate(self.numbers)}
            rows = map(row_of.get, matches.numbers(), repeat(-1))
            return np.fromiter(rows, np.int64, len(matches))
        return np.where(found, self.sorted_row[at], -1)

    def standing(self, time: int) -> np.ndarray:
        """Per URL number, the time of its latest capture at or before `time` (-1 if none)."""
        latest = np.full(len(self.url_name), -1, np.int64)
        before = self.all_time <= time
        np.maximum.at(latest, self.all_url[before], self.all_time[before])
        return latest

    @classmethod
    def of(cls, shown: dict[int, LiveCaptures], url_times: dict[str, tuple[str, ...]]
           ) -> Columns:
        numbers = list(shown)
        url_number = {url: n for n, url in enumerate(sorted({t.url for t in shown.values()}))}
        site_number: dict[str | None, int] = {}
        period_number: dict[tuple[str | None, str], int] = {}
        url_period_number: dict[tuple[int, int], int] = {}
        url_site = [0] * len(url_number)
        columns: list[list[int]] = [[], [], [], [], [], [], []]
        row_, time_, id_, url_, site_, period_, url_period_ = columns
        for row, number in enumerate(numbers):
            text = shown[number]
            url = url_number[text.url]
            site = url_site[url] = site_number.setdefault(text.site, len(site_number))
            for stamp, capture in zip(text.stamps, text.ids, strict=True):
                row_.append(row)
                time_.append(int(stamp))
                id_.append(capture)
                url_.append(url)
                site_.append(site)
                period = period_number.setdefault((text.site, stamp[:6]), len(period_number))
                period_.append(period)
                url_period_.append(url_period_number.setdefault((url, period),
                                                                len(url_period_number)))
        all_url, all_time = [], []
        for url, number in url_number.items():
            times = url_times.get(url, ())
            all_url += [number] * len(times)
            all_time += map(int, times)
        high = np.array([n >> 32 for n in numbers], np.uint64)
        order = np.argsort(high, kind="stable")
        low = np.array([n & 0xFFFFFFFF for n in numbers], np.uint64)
        return cls(shown, numbers, list(url_number), np.array(url_site, np.int64),
                   site_number, list(period_number),
                   np.array([period for _, period in url_period_number], np.int64),
                   CaptureColumns(*(np.array(c, np.int64) for c in columns),
                                  np.searchsorted(row_, np.arange(len(numbers) + 1))),
                   np.array(all_url, np.int64), np.array(all_time, np.int64),
                   high[order], low[order], order.astype(np.int64))


class TextCaptures:
    """One catalog's captures per text and capture times per URL, as far as read so far.
    Shared by the threads of a process: reads and fills take a lock. Once the whole catalog
    has been read (`complete()`), `shown` holds every text, keyed by text number."""

    def __init__(self, stamp: tuple) -> None:
        self.stamp = stamp
        self.shown: dict[int, LiveCaptures | None] = {}  # None: the text has no live capture
        self._url_times: dict[str, tuple[str, ...]] = {}
        self._columns: Columns | None = None
        self._complete = False
        self._lock = threading.Lock()

    @property
    def complete(self) -> bool:
        """Whether the whole catalog has been read."""
        return self._complete

    def columns(self, catalog: Catalog) -> Columns:
        """The whole catalog's live texts and URLs as columns (read and built once)."""
        with self._lock:
            if not self._complete:
                self._read_all(catalog)
            if self._columns is None:
                self._columns = Columns.of(self.shown, self._url_times)
            return self._columns

    def columns_of(self, catalog: Catalog, numbers: Iterable[int]) -> Columns:
        """Columns of these texts alone (those with a live capture) and their URLs: for a
        search in a process that has not read the whole catalog."""
        shown = self.texts(catalog, numbers := list(numbers))
        texts = {n: text for n in numbers if (text := shown.get(n)) is not None}
        times = self.url_times(catalog, {text.url for text in texts.values()})
        return Columns.of(texts, times)

    def texts(self, catalog: Catalog, keys: Collection[int]) -> dict[int, LiveCaptures | None]:
        """A mapping that answers `.get(number)` for every text number of `keys` with its
        live captures, or None if it has none. Read-only for the caller."""
        with self._lock:
            if not self._complete:
                missing = [k for k in keys if k not in self.shown]
                if len(missing) > FULL_READ:
                    self._read_all(catalog)
                elif missing:
                    self._read_texts(catalog, missing)
            return self.shown

    def url_times(self, catalog: Catalog, urls: Collection[str]
                  ) -> dict[str, tuple[str, ...]]:
        """A mapping holding, for every URL of `urls`, the timestamps of all its captures
        (any status), oldest first: what "as of" needs to know which capture stood then."""
        with self._lock:
            if not self._complete:
                missing = [u for u in urls if u not in self._url_times]
                if len(missing) > FULL_READ:
                    self._read_all(catalog)
                elif missing:
                    rows = catalog.capture_times(missing)
                    self._url_times.update(
                        (url, tuple(t for _, t in group))
                        for url, group in groupby(rows, itemgetter(0)))
                    self._url_times.update((u, ()) for u in missing
                                           if u not in self._url_times)
            return self._url_times

    def _read_texts(self, catalog: Catalog, keys: list[int]) -> None:
        rows = catalog.live_captures_of_texts(map(text_key_of, keys))
        self.shown.update(_shown(rows))
        self.shown.update((k, None) for k in keys if k not in self.shown)

    def _read_all(self, catalog: Catalog) -> None:
        rows = catalog.captures_by_text()
        times: dict[str, list[str]] = {}
        for row in rows:
            times.setdefault(row[1], []).append(row[3])
        self._url_times = {url: tuple(sorted(t)) for url, t in times.items()}
        # complete: a text missing here has no live capture (callers look up with .get)
        self.shown = _shown([r for r in rows if r[0] is not None and r[5]])
        self._complete = True


def _shown(rows: list[tuple]) -> dict[int, LiveCaptures]:
    """Rows of (text_key, url, site, timestamp, id, ...) sorted by key and time, per text
    number."""
    shown = {}
    for key, group in groupby(rows, itemgetter(0)):
        captures = list(group)
        stamps = tuple(r[3] for r in captures)
        last = captures[-1]
        shown[text_number(key)] = LiveCaptures(last[1], last[2], stamps,
                                               tuple(r[4] for r in captures))
    return shown


_READERS = threading.local()


def reader(path: Path) -> sqlite3.Connection:
    """This thread's read-only connection to the catalog at `path`, kept between searches:
    a new connection reads the schema on its first query (0.4 ms, a fifth of a small
    search). In autocommit mode, so that no transaction stays open to hide newer rows; a
    new one if the file was replaced."""
    opened = _READERS.__dict__.setdefault("opened", {})
    inode = path.stat().st_ino
    found = opened.get(path)
    if found is None or found[0] != inode:
        if found is not None:
            found[1].close()
        upgraded(path)
        found = opened[path] = (inode, sqlite3.connect(path.as_uri() + "?mode=ro", uri=True,
                                                       isolation_level=None))
    return found[1]


_CACHES: dict[Path, TextCaptures] = {}
_CACHES_LOCK = threading.Lock()


def for_catalog(path: Path) -> TextCaptures:
    """The process's captures of the catalog at `path`, new if the catalog changed since
    (its file or its write-ahead log has another size or modification time)."""
    # taken before reading: a change during a read gives a new stamp next time, never an
    # old stamp on new rows
    stamp = catalog_stamp(path)
    with _CACHES_LOCK:
        cache = _CACHES.get(path)
        if cache is None or cache.stamp != stamp:
            cache = _CACHES[path] = TextCaptures(stamp)
        return cache
