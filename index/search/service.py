"""Search: the full-text engine says which texts match; the catalog says where and when.

The engine (whichever the config names) returns matching text keys with scores. Everything
about captures is then worked out here, once for every engine, from the catalog's `captures`
(read through index.search.text_captures, which keeps them per text in memory): the site and
capture-date filters, "as of" a date, collapsing the captures of a URL into one result,
sorting by date, paging and the facets. Only captures answered with a 2xx status (or without
HTTP status, e.g. resource records) count: error pages are not what the network said.
"""

from __future__ import annotations

import heapq
import re
import sqlite3
from bisect import bisect_left, bisect_right
from collections import Counter
from dataclasses import dataclass
from operator import itemgetter
from pathlib import Path
from typing import Any

import numpy as np

from index.catalog import CATALOG_NAME, ENGINE_META, Catalog, iso_date, pad_timestamp
from index.collection import Collection
from index.config import NetworkConfig
from index.errors import PalimpsestError, QueryError, UsageError
from index.file_stamp import file_stamp
from index.search import text_captures
from index.search.engine import Matches, text_key_of
from index.search.engines import engine_moved, engine_name, engine_override, open_index
from index.search.periods import Periods, count_by_period
from index.search.presence import add_presence, related_watches
from index.search.query import TextQuery
from index.search.query_cost import Budget
from index.search.url_query import list_urls, read_url

SORTS = ("relevance", "date")
MAX_LIMIT = 1000
_SEPARATORS = re.compile(r"[-:T\sZ]")
_DATE_HELP = "YYYY, YYYY-MM, YYYY-MM-DD or a 14-digit timestamp"
_FIRST, _LAST = "0" * 14, "9" * 14
# from this many matching texts on, a search reads the whole catalog (once per process) and
# works on its columns (_by_capture) rather than on the matching texts' captures
BULK = 2000


@dataclass(frozen=True)
class SearchRequest:
    """One search, as the CLI, the web UI and the API ask it.

    `date_from`/`date_to` bound the capture date (inclusive, each as YYYY, YYYY-MM, YYYY-MM-DD
    or 14 digits; `to` runs to the end of the period it names). `as_of` keeps, for each URL,
    only the latest capture at or before that date, and only if that capture's text matches.
    `collapse` gives one result per URL (its best capture, and how many versions matched)."""

    q: str
    site: str | None = None
    date_from: str | None = None
    date_to: str | None = None
    as_of: str | None = None
    sort: str = "relevance"
    collapse: bool = True
    limit: int = 10
    offset: int = 0


def search(collection: Collection, request: SearchRequest,
           config: NetworkConfig | None = None, budget: Budget | None = None
           ) -> dict[str, Any]:
    """Run `request` over the collection; the search JSON object of DESIGN.md:
    `{"read_as": "text", "total", "results": [{"url", "timestamp", "date", "site", "title",
    "snippet", "versions", "captures", "crawl", "first_seen", "last_seen", "score",
    "presence"}], "facets": {"site": {name: n}, "month": {"YYYY-MM": n}, "periods":
    {"unit", "periods": [period], "by_site": {name: {period: n}}}}, "watches": [name]}`.
    `total` and the facets count results (URLs when collapsed, else captures); a URL
    counts in every month (and period) it matched in. `presence` is index.search.presence's,
    `watches` the watched phrases the query is part of. A query that is a URL or a URL
    pattern gets index.search.url_query's object instead (`"read_as": "url"`).
    Raises QueryError for a malformed query or parameter, QueryTooCostly (a QueryError) for
    one that would cost more than `budget` (default: index.search.query_cost's caps and deadline),
    UsageError if nothing is indexed."""
    budget = Budget() if budget is None else budget
    catalog_path = collection.derived_dir / CATALOG_NAME
    db = text_captures.reader(catalog_path) if catalog_path.exists() else None
    wanted_url = read_url(request.q, Catalog(db, collection)) if db else None
    query = None if wanted_url else TextQuery.parse(request.q)
    bounds = _bounds(request)
    if db is None:
        raise UsageError(f"nothing indexed in {collection.root}: run `palimpsest index` first")
    if wanted_url:
        return list_urls(Catalog(db, collection), wanted_url, limit=request.limit,
                         offset=request.offset)
    if config is None:
        config = _config(collection)
    with open_index(collection, config) as engine:
        matches = engine.match(query, budget)
        held = db.execute("SELECT value FROM meta WHERE key = ?", (ENGINE_META,)).fetchone()
        if held and held[0] != engine_name(config):
            raise UsageError(engine_moved(held[0], engine_name(config)))
        if not matches and engine.count() == 0 and db.execute(
                "SELECT 1 FROM captures WHERE text_key IS NOT NULL LIMIT 1").fetchone():
            # a catalog from before the engine was recorded in it
            raise UsageError("the full-text index is empty but the catalog has texts: "
                             "run `palimpsest index --rebuild`")
        # grouping costs milliseconds whatever the query matched (numpy columns, or a loop
        # over at most BULK texts); what takes longer here is a process reading the catalog
        # on its first searches, which every later search reuses: not this query's cost
        with budget.paused():
            found = _group(text_captures.for_catalog(catalog_path), db, matches, bounds,
                           request)
            page = _results(db, found.page[request.offset:])
        described = engine.describe(query, list(dict.fromkeys(r["text_key"] for r in page)),
                                    budget)
    for result in page:
        hit = described.get(result.pop("text_key"))
        result["title"] = (hit.title if hit else "") or result["url"]
        result["snippet"] = hit.snippet_html if hit else ""
    add_presence(Catalog(db, collection), page, matches, budget)
    facets = _facets(found.sites, found.site_months)
    facets["periods"] = found.periods.to_json()
    return {"read_as": "text", "total": found.total, "results": page, "facets": facets,
            "watches": related_watches(query, config)}


def prepare(collection: Collection) -> None:
    """Read what searches need from the catalog and open the full-text index ahead of the
    first search (a server does this as it starts); nothing if nothing is indexed."""
    catalog_path = collection.derived_dir / CATALOG_NAME
    if not catalog_path.exists():
        return
    try:
        config = _config(collection)
        text_captures.for_catalog(catalog_path).columns(text_captures.reader(catalog_path))
        open_index(collection, config).close()
    except (PalimpsestError, sqlite3.Error):
        pass  # the first search reports it, on the page that asked


_CONFIGS: dict[Path, tuple[tuple, NetworkConfig]] = {}


def _config(collection: Collection) -> NetworkConfig | None:
    """The collection's config (None if it has none), parsed again only when its file or
    $PALIMPSEST_ENGINE changed: the web UI searches without one, and parsing the TOML
    cost a millisecond a search."""
    stamp = (*file_stamp(collection.config_path), engine_override())
    if stamp[0] is None:
        return None
    cached = _CONFIGS.get(collection.config_path)
    if cached is None or cached[0] != stamp:
        cached = _CONFIGS[collection.config_path] = (stamp, collection.load_config())
    return cached[1]


def _bounds(request: SearchRequest) -> tuple[str, str, str | None]:
    """The request's capture-date range (14-digit timestamps, inclusive) and its as-of
    date, checked; QueryError for a bad parameter."""
    if request.sort not in SORTS:
        raise QueryError(f"sort must be {' or '.join(SORTS)}, not {request.sort!r}")
    if not 1 <= request.limit <= MAX_LIMIT:
        raise QueryError(f"limit must be between 1 and {MAX_LIMIT}")
    if request.offset < 0:
        raise QueryError("offset must not be negative")
    start = _bound(request.date_from, "from") if request.date_from else _FIRST
    end = _bound(request.date_to, "to", up=True) if request.date_to else _LAST
    if start > end:
        raise QueryError(f"from ({request.date_from}) is after to ({request.date_to})")
    as_of = _bound(request.as_of, "as-of", up=True) if request.as_of else None
    return start, end, as_of


def _bound(value: str, name: str, *, up: bool = False) -> str:
    """A date given as YYYY[-MM[-DD]], ISO 8601 or 4-14 digits, padded to 14 digits: the
    start of the period it names, or with `up` its end."""
    digits = _SEPARATORS.sub("", value.strip())
    try:
        start = pad_timestamp(digits)
    except UsageError:
        raise QueryError(f"{name}: {value!r} is not a date ({_DATE_HELP})") from None
    if len(digits) % 2:
        raise QueryError(f"{name}: {value!r} is not a date ({_DATE_HELP})")
    return pad_timestamp(digits, up=True) if up else start


# A result before formatting: [order key, capture id, text number, site, url, timestamp, score,
# versions (texts), captures, first seen, last seen]; the order key is (score, timestamp, url)
# for relevance, (timestamp, score, url) for date. Collapsed, the best capture of the URL's
# matching texts (a text's best is its latest capture, in either order) and counts over them.
Entry = list


@dataclass
class _Grouped:
    """What a search found: how many results, the facets' counts, the requested page."""

    total: int
    sites: Counter[str | None]  # results per site
    site_months: Counter[tuple[str | None, str]]  # results per (site, YYYYMM)
    page: list[Entry]
    periods: Periods  # results per site and period, for the chart


def _group(captures: text_captures.TextCaptures, db: sqlite3.Connection, matches: Matches,
           bounds: tuple[str, str, str | None], request: SearchRequest) -> _Grouped:
    """The matching texts' captures that pass the filters, grouped into results."""
    if captures.complete or len(matches) > BULK:
        return _by_capture(captures.columns(db), matches, bounds, request)
    return _by_text(captures, db, matches.by_number(), bounds, request)


def _by_text(captures: text_captures.TextCaptures, db: sqlite3.Connection,
             scores: dict[int, float], bounds: tuple[str, str, str | None],
             request: SearchRequest) -> _Grouped:
    """Any search, in one pass over the matching texts (not over their captures): for a
    process that has not read the whole catalog, e.g. a one-off search of a rare word."""
    start, end, as_of = bounds
    shown = captures.texts(db, scores)
    standing = None
    if as_of:
        # the capture a visitor would have seen: the URL's latest at that date, whatever
        # its status; an error page or a redirect then means the page was not live
        urls = {s.url for k in scores if (s := shown.get(k)) is not None}
        times = captures.url_times(db, urls)
        standing = {url: t[i - 1] for url in urls if (i := bisect_right(t := times[url], as_of))}
    whole = start == _FIRST and end == _LAST and standing is None
    relevance, site, collapse = request.sort == "relevance", request.site, request.collapse
    rows: list[Entry] = []  # one per capture, unless collapsed
    grouped: dict[str, Entry] = {}  # url -> its result, with months (a set) appended
    chosen_times: list[str] = []  # the captures the results stand for, and their URLs
    chosen_urls: list[str] = []
    for key, score in scores.items():
        text = shown.get(key)
        if text is None or (site is not None and text.site != site):
            continue
        stamps, url = text.stamps, text.url
        if whole:
            lo, hi, months = 0, len(stamps), text.months
        else:
            lo, hi = bisect_left(stamps, start), bisect_right(stamps, end)
            if standing is not None:
                at = standing.get(url)
                lo, hi = (bisect_left(stamps, at, lo, hi), bisect_right(stamps, at, lo, hi)) \
                    if at else (0, 0)
            if lo >= hi:
                continue
            months = frozenset(t[:6] for t in stamps[lo:hi])
        chosen_times += stamps[lo:hi]
        chosen_urls += [url] * (hi - lo)
        if not collapse:
            rows += [[(score, t, url) if relevance else (t, score, url), text.ids[i], key,
                      text.site, url, t, score] for i, t in enumerate(stamps[lo:hi], lo)]
        last = stamps[hi - 1]
        order = (score, last, url) if relevance else (last, score, url)
        found = grouped.get(url)
        if found is None:
            grouped[url] = [order, text.ids[hi - 1], key, text.site, url, last, score,
                            1, hi - lo, stamps[lo], last, months]
            continue
        if order > found[0]:
            found[0:7] = order, text.ids[hi - 1], key, text.site, url, last, score
        found[7] += 1
        found[8] += hi - lo
        found[9], found[10] = min(found[9], stamps[lo]), max(found[10], last)
        found[11] = found[11] | months
    need = request.offset + request.limit
    url_number = {url: n for n, url in enumerate(grouped)}
    sites = list(dict.fromkeys(e[3] for e in grouped.values()))
    captured = [int(t) for times in captures.url_times(db, grouped).values()
                for t in times[bisect_left(times, start):bisect_right(times, end)]]
    periods = count_by_period(
        np.array(list(map(int, chosen_times)), np.int64),
        np.array([url_number[u] for u in chosen_urls], np.int64),
        np.array([sites.index(e[3]) for e in grouped.values()], np.int64), sites,
        np.array(captured, np.int64), collapse)
    if collapse:
        return _Grouped(len(grouped), Counter(map(itemgetter(3), grouped.values())),
                        Counter((e[3], m) for e in grouped.values() for m in e[11]),
                        heapq.nlargest(need, grouped.values(), key=itemgetter(0)),
                        periods)
    return _Grouped(len(rows), Counter(map(itemgetter(3), rows)),
                    Counter((row[3], row[5][:6]) for row in rows),
                    [row + grouped[row[4]][7:11]
                     for row in heapq.nlargest(need, rows, key=itemgetter(0))],
                    periods)


def _by_capture(columns: text_captures.Columns, matches: Matches,
                bounds: tuple[str, str, str | None], request: SearchRequest) -> _Grouped:
    """Any search, as vector operations over the whole catalog's live captures (numpy
    columns, sorted by text and time): which captures of the matching texts pass the
    filters, then per text and per URL their counts, first and last times and best text.
    The same results as _by_text, in a few milliseconds however much the query matches."""
    start, end, as_of = bounds
    rows = columns.rows(matches)
    live = rows >= 0  # texts without a live capture are not results
    text_score = np.full(len(columns.numbers), np.nan)
    text_score[rows[live]] = matches.scores[live]
    cap = columns.captures
    # each text's captures together, oldest first: gathered for a few texts, else a mask
    at = cap.of_rows(rows[live]) if 8 * len(rows) < len(columns.numbers) \
        else np.flatnonzero(~np.isnan(text_score[cap.row]))
    if request.site is not None:
        at = at[cap.site[at] == columns.site_number.get(request.site, -1)]
    if start != _FIRST or end != _LAST:
        at = at[(cap.time[at] >= int(start)) & (cap.time[at] <= int(end))]
    if as_of is not None:
        # the capture a visitor would have seen: the URL's latest at that date, whatever
        # its status; an error page or a redirect then means the page was not live
        at = at[cap.time[at] == columns.standing(int(as_of))[cap.url[at]]]
    row, time, url = cap.row[at], cap.time[at], cap.url[at]
    score = text_score[row]
    relevance = request.sort == "relevance"
    # per text: its chosen captures' count, first and last
    ends = np.flatnonzero(np.r_[row[1:] != row[:-1], True]) if len(at) else at
    starts = np.r_[0, ends[:-1] + 1] if len(at) else at
    t_url, t_last, t_score = url[ends], time[ends], score[ends]
    # per URL: versions (texts), captures, first and last seen
    urls = len(columns.url_name)
    versions = np.bincount(t_url, minlength=urls)
    counts = np.bincount(url, minlength=urls)
    first = np.full(urls, np.iinfo(np.int64).max)
    np.minimum.at(first, t_url, time[starts])
    last = np.zeros(urls, np.int64)
    np.maximum.at(last, t_url, t_last)
    found = np.flatnonzero(versions)
    need = request.offset + request.limit

    def entry(capture: int, text_row: int, u: int, t: int, s: float) -> Entry:
        stamp, name = _stamp(t), columns.url_name[u]
        number = columns.numbers[text_row]
        return [(s, stamp, name) if relevance else (stamp, s, name), int(cap.id[capture]),
                number, columns.shown[number].site, name, stamp, s, int(versions[u]),
                int(counts[u]), _stamp(first[u]), _stamp(last[u])]

    if request.collapse:
        # each URL's best text: the highest (score, last time), or (last time, score)
        primary, secondary = (t_score, t_last) if relevance else (t_last, t_score)
        best = _best_per_url(urls, t_url, primary, secondary)
        b_url = np.flatnonzero(best >= 0)
        best = best[b_url]
        b_primary, b_secondary = primary[best], secondary[best]
        if len(best) > need:  # only the URLs that may be on the page are sorted
            floor = np.partition(b_primary, len(best) - need)[len(best) - need]
            kept = b_primary >= floor
            best, b_url, b_primary, b_secondary = (best[kept], b_url[kept], b_primary[kept],
                                                   b_secondary[kept])
        # URL numbers follow the URLs' order, so ties sort as the URL strings do
        page = best[np.lexsort((b_url, b_secondary, b_primary))[::-1][:need]]
        entries = [entry(at[ends[i]], row[ends[i]], t_url[i], t_last[i], float(t_score[i]))
                   for i in page.tolist()]
        sites = np.bincount(columns.url_site[found], minlength=len(columns.site_number))
        # a URL counts once in each month it has a chosen capture in
        slots = np.zeros(len(columns.slot_period), bool)
        slots[cap.slot[at]] = True
        periods = np.bincount(columns.slot_period[slots], minlength=len(columns.period))
        total = len(found)
    else:
        page = np.lexsort((url, time, score) if relevance else (url, score, time))[::-1][:need]
        entries = [entry(at[i], row[i], url[i], time[i], float(score[i]))
                   for i in page.tolist()]
        sites = np.bincount(columns.url_site[url], minlength=len(columns.site_number))
        periods = np.bincount(cap.period[at], minlength=len(columns.period))
        total = len(at)
    names = list(columns.site_number)
    # every capture of the results' pages in the date range: the chart's axis
    axis = np.isin(columns.all_url, found) & (columns.all_time >= int(start)) & \
        (columns.all_time <= int(end))
    by_period = count_by_period(time, url, columns.url_site, names, columns.all_time[axis],
                                request.collapse)
    return _Grouped(total, Counter({names[s]: n for s, n in enumerate(sites.tolist()) if n}),
                    Counter({columns.period[p]: n for p, n in enumerate(periods.tolist()) if n}),
                    entries, by_period)


def _best_per_url(urls: int, url: np.ndarray, primary: np.ndarray, secondary: np.ndarray
                  ) -> np.ndarray:
    """Per URL number (of `urls`), the position of its item with the highest (primary,
    secondary), -1 for a URL without items: two passes of maxima, no sort."""
    top = np.full(urls, -np.inf)
    np.maximum.at(top, url, primary)
    tied = np.flatnonzero(primary == top[url])
    second = np.full(urls, -np.inf)
    np.maximum.at(second, url[tied], secondary[tied])
    chosen = tied[secondary[tied] == second[url[tied]]]
    best = np.full(urls, -1, np.int64)
    best[url[chosen]] = chosen  # (equal items: the last wins)
    return best


def _stamp(time: int) -> str:
    return f"{time:014d}"


def _facets(sites: Counter[str | None], site_months: Counter[tuple[str | None, str]]
            ) -> dict[str, dict[str, Any]]:
    """Results per site (most first) and per month (in order): pages when collapsed, a page
    counting once in every month it matched in; else captures."""
    months: Counter[str] = Counter()
    for (_, month), n in site_months.items():
        months[month] += n
    sites.pop(None, None)
    ranked = dict(sorted(sites.items(), key=lambda kv: (-kv[1], kv[0])))
    return {"site": ranked,
            "month": {f"{m[:4]}-{m[4:]}": n for m, n in sorted(months.items())}}


def _results(db: sqlite3.Connection, entries: list[Entry]) -> list[dict[str, Any]]:
    """The page's results as JSON objects, without titles and snippets."""
    ids = [entry[1] for entry in entries]
    found = {row[0]: row[1:] for row in db.execute(
        f"SELECT id, warc_date, crawl FROM captures WHERE id IN ({', '.join('?' * len(ids))})",
        ids)}
    page = []
    for _, capture_id, text_key, site, url, timestamp, score, texts, captures, first, last, \
            *_ in entries:
        warc_date, crawl = found[capture_id]
        page.append({
            "url": url, "timestamp": timestamp, "date": iso_date(warc_date, timestamp),
            "site": site, "crawl": crawl, "text_key": text_key_of(text_key),
            "score": round(score, 4),
            "versions": texts, "captures": captures,
            # first and last seen are timestamps only: iso_date formats them as such
            "first_seen": iso_date("", first), "last_seen": iso_date("", last)})
    return page
