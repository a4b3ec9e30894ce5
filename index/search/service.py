"""Search: the full-text engine says which texts match; the catalog says where and when.

The engine (whichever the config names) returns matching text keys with scores. Everything
about captures is then worked out here, once for every engine, from the catalog's `captures`
(read through index.search.text_captures, which keeps them per text in memory): the site and
capture-date filters, "as of" a date, collapsing the captures of a URL into one result,
sorting by date, paging and the facets. Only captures answered with a 2xx status (or without
HTTP status, e.g. resource records) count: error pages are not what the network said.
"""

from __future__ import annotations

import re
import sqlite3
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from index.catalog import CATALOG_NAME, ENGINE_META, Catalog
from index.collection import Collection
from index.config import NetworkConfig
from index.errors import PalimpsestError, QueryError, UsageError
from index.file_stamp import file_stamp
from index.search import text_captures
from index.search.engine import text_key_of
from index.search.engines import engine_moved, engine_name, engine_override, open_index
from index.search.grouping import FIRST, LAST, Entry, group
from index.search.hits import describe
from index.search.presence import add_presence, related_watches
from index.search.query import TextQuery
from index.search.query_cost import Budget
from index.search.url_query import list_urls, read_url
from index.timestamps import iso_date, pad_timestamp

SORTS = ("relevance", "date")
MAX_LIMIT = 1000
_SEPARATORS = re.compile(r"[-:T\sZ]")
_DATE_HELP = "YYYY, YYYY-MM, YYYY-MM-DD or a 14-digit timestamp"


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
    "snippet", "snippet_runs", "versions", "captures", "crawl", "first_seen", "last_seen",
    "score", "presence"}], "facets": {"site": {name: n}, "month": {"YYYY-MM": n}, "periods":
    {"unit", "periods": [period], "by_site": {name: {period: n}}}}, "watches": [name]}`.
    `total` and the facets count results (URLs when collapsed, else captures); a URL
    counts in every month (and period) it matched in. `snippet` is HTML whose only markup
    is <mark> around the matching words; `snippet_runs` the same as [text, marked] pairs
    (the page and the CLI mark those). `presence` is index.search.presence's,
    `watches` the watched phrases the query is part of. A query that is a URL or a URL
    pattern gets index.search.url_query's object instead (`"read_as": "url"`).
    Raises QueryError for a malformed query or parameter, QueryTooCostly (a QueryError) for
    one that would cost more than `budget` (default: index.search.query_cost's caps and
    deadline), UsageError if nothing is indexed."""
    budget = Budget() if budget is None else budget
    catalog_path = collection.derived_dir / CATALOG_NAME
    catalog = Catalog(text_captures.reader(catalog_path), collection) \
        if catalog_path.exists() else None
    wanted_url = read_url(request.q, catalog) if catalog else None
    query = None if wanted_url else TextQuery.parse(request.q)
    bounds = _bounds(request)
    if catalog is None:
        raise UsageError(f"nothing indexed in {collection.root}: run `palimpsest index` first")
    if wanted_url:
        return list_urls(catalog, wanted_url, limit=request.limit, offset=request.offset)
    if config is None:
        config = _config(collection)
    with open_index(collection, config) as engine:
        matches = engine.match(query, budget)
        indexed_in = catalog.get_meta(ENGINE_META)
        if indexed_in and indexed_in != engine_name(config):
            raise UsageError(engine_moved(indexed_in, engine_name(config)))
        if not matches and engine.count() == 0 and catalog.has_captured_texts():
            # a catalog from before the engine was recorded in it
            raise UsageError("the full-text index is empty but the catalog has texts: "
                             "run `palimpsest index --rebuild`")
        # grouping costs milliseconds whatever the query matched (numpy columns of the
        # whole catalog, or of at most BULK texts' captures); what takes longer here is a
        # process reading the catalog on its first searches, which every later search
        # reuses: not this query's cost
        with budget.paused():
            found = group(text_captures.for_catalog(catalog_path), catalog, matches, bounds,
                          site=request.site, collapse=request.collapse, sort=request.sort,
                          need=request.offset + request.limit)
            page = _results(catalog, found.page[request.offset:])
        described = describe(engine, query,
                             list(dict.fromkeys(r["text_key"] for r in page)), budget)
    for result in page:
        hit = described.get(result.pop("text_key"))
        result["title"] = (hit.title if hit else "") or result["url"]
        result["snippet"] = hit.snippet.html() if hit else ""
        result["snippet_runs"] = [list(run) for run in hit.snippet.runs] if hit else []
    add_presence(catalog, page, matches, budget)
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
        text_captures.for_catalog(catalog_path).columns(
            Catalog(text_captures.reader(catalog_path), collection))
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
    start = _bound(request.date_from, "from") if request.date_from else FIRST
    end = _bound(request.date_to, "to", up=True) if request.date_to else LAST
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


def _results(catalog: Catalog, entries: list[Entry]) -> list[dict[str, Any]]:
    """The page's results as JSON objects, without titles and snippets."""
    found = catalog.dates_and_crawls([entry.capture_id for entry in entries])
    page = []
    for entry in entries:
        warc_date, crawl = found[entry.capture_id]
        page.append({
            "url": entry.url, "timestamp": entry.timestamp,
            "date": iso_date(warc_date, entry.timestamp), "site": entry.site, "crawl": crawl,
            "text_key": text_key_of(entry.text_number), "score": round(entry.score, 4),
            "versions": entry.versions, "captures": entry.captures,
            # first and last seen are timestamps only: iso_date formats them as such
            "first_seen": iso_date("", entry.first_seen),
            "last_seen": iso_date("", entry.last_seen)})
    return page
