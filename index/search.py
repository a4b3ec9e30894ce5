"""Search: the full-text engine says which texts match; the catalog says where and when.

The engine (whichever the config names) returns matching text keys with scores. Everything
about captures is then worked out here, once for every engine, in SQL over the catalog's
`captures` table: the site and capture-date filters, "as of" a date, collapsing the captures
of a URL into one result, sorting by date, paging and the facets. Only captures answered with
a 2xx status (or without HTTP status, e.g. resource records) count: error pages are not what
the network said.
"""

from __future__ import annotations

import heapq
import re
import sqlite3
from collections import Counter
from dataclasses import dataclass
from operator import itemgetter
from typing import Any

from index.catalog import CATALOG_NAME, iso_date, pad_timestamp
from index.collection import Collection
from index.config import NetworkConfig
from index.errors import QueryError, UsageError
from index.fulltext import TextQuery, open_index

SORTS = ("relevance", "date")
MAX_LIMIT = 1000
_SEPARATORS = re.compile(r"[-:T\sZ]")
_DATE_HELP = "YYYY, YYYY-MM, YYYY-MM-DD or a 14-digit timestamp"
_LIVE = "(c.status IS NULL OR c.status BETWEEN 200 AND 299)"


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
    where, args = _filters(request)
    catalog_path = collection.derived_dir / CATALOG_NAME
    if not catalog_path.exists():
        raise UsageError(f"nothing indexed in {collection.root}: run `palimpsest index` first")
    if config is None and collection.config_path.exists():
        config = collection.load_config()
    with open_index(collection, config) as engine:
        scores = engine.match(query)
        db = sqlite3.connect(catalog_path.as_uri() + "?mode=ro", uri=True)
        try:
            found = _Matched(db, scores, where, args, request)
            total, facets, page = found.total(), found.facets(), found.page()
            described = engine.describe(query, list(dict.fromkeys(r["text_key"] for r in page)))
        finally:
            db.close()
    for result in page:
        hit = described.get(result.pop("text_key"))
        result["title"] = (hit.title if hit else "") or result["url"]
        result["snippet"] = hit.snippet_html if hit else ""
    return {"total": total, "results": page, "facets": facets}


def _filters(request: SearchRequest) -> tuple[str, list[Any]]:
    """The request's conditions on a capture `c`, as SQL and its arguments."""
    if request.sort not in SORTS:
        raise QueryError(f"sort must be {' or '.join(SORTS)}, not {request.sort!r}")
    if not 1 <= request.limit <= MAX_LIMIT:
        raise QueryError(f"limit must be between 1 and {MAX_LIMIT}")
    if request.offset < 0:
        raise QueryError("offset must not be negative")
    where, args = [_LIVE], []
    if request.site:
        where.append("c.site = ?")
        args.append(request.site)
    start = _bound(request.date_from, "from") if request.date_from else None
    end = _bound(request.date_to, "to", up=True) if request.date_to else None
    if start and end and start > end:
        raise QueryError(f"from ({request.date_from}) is after to ({request.date_to})")
    if start:
        where.append("c.timestamp >= ?")
        args.append(start)
    if end:
        where.append("c.timestamp <= ?")
        args.append(end)
    if request.as_of:
        # the capture a visitor would have seen: the URL's latest at that date, whatever
        # its status; an error page or a redirect then means the page was not live
        as_of = _bound(request.as_of, "as-of", up=True)
        where.append("c.timestamp = (SELECT MAX(l.timestamp) FROM captures AS l "
                     "WHERE l.url = c.url AND l.timestamp <= ?)")
        args.append(as_of)
    return " AND ".join(where), args


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


class _Matched:
    """The captures whose text matched and that pass the filters, grouped by URL in one pass.

    One pass in Python over the joined rows gives total, facets and the page at once; the same
    in SQL (a temporary table, a window function, three GROUP BYs) took longer when a query
    matches most of the archive. The rows carry only what grouping needs."""

    def __init__(self, db: sqlite3.Connection, scores: dict[str, float], where: str,
                 args: list[Any], request: SearchRequest) -> None:
        self.db = db
        self.request = request
        db.execute("CREATE TEMP TABLE hits (text_key TEXT PRIMARY KEY, score REAL) "
                   "WITHOUT ROWID")
        db.executemany("INSERT INTO hits VALUES (?, ?)", scores.items())
        # CROSS JOIN keeps hits as the outer loop (one index probe per matching text); the
        # planner, knowing nothing of the temporary table, would scan every capture instead
        self.rows = db.execute(f"""
            SELECT h.score, c.timestamp, c.url, c.id, c.site, c.text_key
            FROM hits AS h CROSS JOIN captures AS c ON c.text_key = h.text_key WHERE {where}""",
                               args).fetchall()
        # relevance: the best-scoring capture, the latest of equals; date: the latest
        self.order = itemgetter(0, 1, 2) if request.sort == "relevance" else itemgetter(1, 0, 2)
        order = self.order
        # url -> [best row, its order key, texts, captures, first, last, months (YYYYMM)]
        self.urls: dict[str, list] = {}
        for row in self.rows:
            ts = row[1]
            found = self.urls.get(row[2])
            if found is None:
                self.urls[row[2]] = [row, order(row), {row[5]}, 1, ts, ts, {ts[:6]}]
                continue
            key = order(row)
            if key > found[1]:
                found[0], found[1] = row, key
            found[2].add(row[5])
            found[3] += 1
            found[4], found[5] = min(found[4], ts), max(found[5], ts)
            found[6].add(ts[:6])

    def total(self) -> int:
        return len(self.urls) if self.request.collapse else len(self.rows)

    def facets(self) -> dict[str, dict[str, int]]:
        """Results per site (most first) and per month (in order): pages when collapsed, a
        page counting once in every month it matched in; else captures."""
        if self.request.collapse:
            sites = Counter(found[0][4] for found in self.urls.values())
            site_months = Counter((found[0][4], m) for found in self.urls.values()
                                  for m in found[6])
        else:
            sites = Counter(row[4] for row in self.rows)
            site_months = Counter((row[4], row[1][:6]) for row in self.rows)
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

    def page(self) -> list[dict[str, Any]]:
        """The requested page of results, best first (or newest first), without titles."""
        request = self.request
        pool = [found[0] for found in self.urls.values()] if request.collapse else self.rows
        chosen = heapq.nlargest(request.offset + request.limit, pool,
                                key=self.order)[request.offset:]
        page = []
        for score, timestamp, url, capture_id, site, text_key in chosen:
            warc_date, crawl = self.db.execute("SELECT warc_date, crawl FROM captures "
                                               "WHERE id = ?", (capture_id,)).fetchone()
            _, _, texts, captures, first, last, _ = self.urls[url]
            page.append({
                "url": url, "timestamp": timestamp, "date": iso_date(warc_date, timestamp),
                "site": site, "crawl": crawl, "text_key": text_key, "score": round(score, 4),
                "versions": len(texts), "captures": captures,
                # first and last seen are timestamps only: iso_date formats them as such
                "first_seen": iso_date("", first), "last_seen": iso_date("", last)})
        return page
