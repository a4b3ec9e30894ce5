"""Search: the full-text engine says which texts match; the catalog says where and when.

The engine (whichever the config names) returns matching text keys with scores. Everything
about captures is then worked out here, once for every engine, from the catalog's `captures`
(read through index.text_captures, which keeps them per text in memory): the site and
capture-date filters, "as of" a date, collapsing the captures of a URL into one result,
sorting by date, paging and the facets. Only captures answered with a 2xx status (or without
HTTP status, e.g. resource records) count: error pages are not what the network said.
"""

from __future__ import annotations

import heapq
import os
import re
import sqlite3
from bisect import bisect_left, bisect_right
from collections import Counter
from dataclasses import dataclass
from itertools import chain, compress
from operator import itemgetter, lt
from pathlib import Path
from typing import Any

from index import text_captures
from index.catalog import CATALOG_NAME, iso_date, pad_timestamp
from index.collection import ENGINE_ENV, Collection
from index.config import NetworkConfig
from index.errors import QueryError, UsageError
from index.fulltext import TextQuery, open_index

SORTS = ("relevance", "date")
MAX_LIMIT = 1000
_SEPARATORS = re.compile(r"[-:T\sZ]")
_DATE_HELP = "YYYY, YYYY-MM, YYYY-MM-DD or a 14-digit timestamp"
_FIRST, _LAST = "0" * 14, "9" * 14
# from this many matching texts on, a plain collapsed search counts per URL (see _by_url)
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
           config: NetworkConfig | None = None) -> dict[str, Any]:
    """Run `request` over the collection; the search JSON object of DESIGN.md:
    `{"total", "results": [{"url", "timestamp", "date", "site", "title", "snippet",
    "versions", "captures", "crawl", "first_seen", "last_seen", "score"}], "facets":
    {"site": {name: n}, "month": {"YYYY-MM": n}}}`. `total` and the facets count results
    (URLs when collapsed, else captures); a URL counts in every month it matched in.
    Raises QueryError for a malformed query or parameter, UsageError if nothing is indexed."""
    query = TextQuery.parse(request.q)
    bounds = _bounds(request)
    catalog_path = collection.derived_dir / CATALOG_NAME
    if not catalog_path.exists():
        raise UsageError(f"nothing indexed in {collection.root}: run `palimpsest index` first")
    if config is None:
        config = _config(collection)
    with open_index(collection, config) as engine:
        scores = engine.match(query)
        db = sqlite3.connect(catalog_path.as_uri() + "?mode=ro", uri=True)
        try:
            if not scores and engine.count() == 0 and db.execute(
                    "SELECT 1 FROM captures WHERE text_key IS NOT NULL LIMIT 1").fetchone():
                # e.g. the config names another engine than the one the texts went into
                raise UsageError("the full-text index is empty but the catalog has texts: "
                                 "run `palimpsest index --rebuild`")
            found = _group(text_captures.for_catalog(catalog_path), db, scores, bounds,
                           request)
            page = _results(db, found.page[request.offset:])
            described = engine.describe(query, list(dict.fromkeys(r["text_key"] for r in page)))
        finally:
            db.close()
    for result in page:
        hit = described.get(result.pop("text_key"))
        result["title"] = (hit.title if hit else "") or result["url"]
        result["snippet"] = hit.snippet_html if hit else ""
    return {"total": found.total, "results": page,
            "facets": _facets(found.sites, found.site_months)}


_CONFIGS: dict[Path, tuple[tuple, NetworkConfig]] = {}


def _config(collection: Collection) -> NetworkConfig | None:
    """The collection's config (None if it has none), parsed again only when its file or
    $PALIMPSEST_ENGINE changed: the web UI searches without one, and parsing the TOML
    cost a millisecond a search."""
    try:
        info = collection.config_path.stat()
    except FileNotFoundError:
        return None
    stamp = (info.st_mtime_ns, info.st_size, info.st_ino, os.environ.get(ENGINE_ENV))
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


# A result before formatting: [order key, capture id, text key, site, url, timestamp, score,
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


def _group(captures: text_captures.TextCaptures, db: sqlite3.Connection,
           scores: dict[str, float], bounds: tuple[str, str, str | None],
           request: SearchRequest) -> _Grouped:
    """The matching texts' captures that pass the filters, grouped into results."""
    if (request.collapse and request.sort == "relevance" and len(scores) > BULK
            and bounds == (_FIRST, _LAST, None)):
        return _by_url(captures.complete(db), scores, request)
    return _by_text(captures, db, scores, bounds, request)


def _by_text(captures: text_captures.TextCaptures, db: sqlite3.Connection,
             scores: dict[str, float], bounds: tuple[str, str, str | None],
             request: SearchRequest) -> _Grouped:
    """Any search, in one pass over the matching texts (not over their captures)."""
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
    if collapse:
        return _Grouped(len(grouped), Counter(map(itemgetter(3), grouped.values())),
                        Counter((e[3], m) for e in grouped.values() for m in e[11]),
                        heapq.nlargest(need, grouped.values(), key=itemgetter(0)))
    return _Grouped(len(rows), Counter(map(itemgetter(3), rows)),
                    Counter((row[3], row[5][:6]) for row in rows),
                    [row + grouped[row[4]][7:11]
                     for row in heapq.nlargest(need, rows, key=itemgetter(0))])


def _by_url(captures: text_captures.TextCaptures, scores: dict[str, float],
            request: SearchRequest) -> _Grouped:
    """A collapsed search by relevance without date filters, over many matching texts:
    the same results as _by_text, counted per URL by C-level passes (Counter, map) over the
    whole catalog's numbered URLs, and only the page's URLs looked at one by one (at 23,000
    matching texts: ~4x faster)."""
    urls = captures.urls
    counts = Counter(map(captures.url_of.get, scores))  # URL number -> its matching texts
    counts.pop(None, None)  # texts without a live capture
    if request.site is not None:
        counts = Counter({u: n for u, n in counts.items() if urls.site[u] == request.site})
    periods = Counter(chain.from_iterable(map(urls.periods.__getitem__, counts)))
    # a URL of which only some texts match counts in the months of those texts only
    for url in compress(counts, map(lt, counts.values(), map(len, map(urls.keys.__getitem__,
                                                                          counts)))):
        periods.subtract(urls.periods[url])
        periods.update({urls.period_number[urls.site[url], m] for k in urls.keys[url]
                        if k in scores for m in captures.shown[k].months})
    # the page: URLs in order of their best text's score, down to the score at which enough
    # URLs are found; ties at that score all taken, then each URL's best worked out exactly
    need = request.offset + request.limit
    taken: dict[int, None] = {}
    boundary, size = None, 4 * need
    while True:
        best = heapq.nlargest(size, scores.items(), key=itemgetter(1))
        for key, score in best:
            if boundary is not None and score < boundary:
                break
            url = captures.url_of.get(key)
            if url in counts and url not in taken:
                taken[url] = None
                if len(taken) == need:
                    boundary = score
        if len(best) < size or (boundary is not None and best[-1][1] < boundary):
            break
        taken, boundary, size = {}, None, size * 4
    entries = [_url_entry(captures, url, scores) for url in taken]
    return _Grouped(len(counts), Counter(map(urls.site.__getitem__, counts)),
                    Counter({urls.period[p]: n for p, n in periods.items() if n > 0}),
                    heapq.nlargest(need, entries, key=itemgetter(0)))


def _url_entry(captures: text_captures.TextCaptures, number: int,
               scores: dict[str, float]) -> Entry:
    """The collapsed result of URL `number` by relevance, over all its matching texts."""
    entry: Entry = []
    url = captures.urls.name[number]
    for key in captures.urls.keys[number]:
        score = scores.get(key)
        if score is None:
            continue
        text = captures.shown[key]
        last = text.stamps[-1]
        if not entry:
            entry = [(score, last, url), text.ids[-1], key, text.site, url, last, score,
                     1, len(text.stamps), text.stamps[0], last]
            continue
        if (score, last, url) > entry[0]:
            entry[0:7] = (score, last, url), text.ids[-1], key, text.site, url, last, score
        entry[7] += 1
        entry[8] += len(text.stamps)
        entry[9], entry[10] = min(entry[9], text.stamps[0]), max(entry[10], last)
    return entry


def _facets(sites: Counter[str | None], site_months: Counter[tuple[str | None, str]]
            ) -> dict[str, dict[str, Any]]:
    """Results per site (most first) and per month (in order): pages when collapsed, a page
    counting once in every month it matched in; else captures."""
    months: Counter[str] = Counter()
    per_site: dict[str, dict[str, int]] = {}
    for (site, month), n in sorted(site_months.items(), key=lambda kv: kv[0][1]):
        months[month] += n
        if site is not None:
            per_site.setdefault(site, {})[f"{month[:4]}-{month[4:]}"] = n
    sites.pop(None, None)
    ranked = dict(sorted(sites.items(), key=lambda kv: (-kv[1], kv[0])))
    return {"site": ranked,
            "month": {f"{m[:4]}-{m[4:]}": n for m, n in sorted(months.items())},
            # matches over time per site, for the search page's chart
            "site_month": {site: per_site[site] for site in ranked}}


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
            "site": site, "crawl": crawl, "text_key": text_key, "score": round(score, 4),
            "versions": texts, "captures": captures,
            # first and last seen are timestamps only: iso_date formats them as such
            "first_seen": iso_date("", first), "last_seen": iso_date("", last)})
    return page
