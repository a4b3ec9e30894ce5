"""The search page (`/`, `/search`) and its CSV export. The box takes words and phrases, or a
URL: one URL opens its timeline, a URL pattern lists the URLs it matches
(index.search.url_query)."""

from __future__ import annotations

import csv
import io
from typing import Any

from flask import Blueprint, Response, redirect, render_template, request

from index.config import Site
from index.errors import QueryError
from index.search.service import SearchRequest, search
from web.chart import COLOURS, period_chart
from web.state import catalog, collection, network_config

bp = Blueprint("search", __name__)
PAGE_SIZE = 10


def search_request(limit: int = PAGE_SIZE) -> SearchRequest:
    """The SearchRequest the query string asks for (shared by the page, CSV and API)."""
    args = request.args
    try:
        page = max(1, int(args.get("page", "1")))
        limit = min(1000, max(1, int(args.get("limit", str(limit)))))
    except ValueError:
        raise QueryError("page and limit must be whole numbers") from None
    sort = args.get("sort", "relevance")
    if sort not in ("relevance", "date"):
        raise QueryError("sort must be relevance or date")
    return SearchRequest(
        q=args.get("q", "").strip(), site=args.get("site") or None,
        date_from=args.get("from") or None, date_to=args.get("to") or None,
        as_of=args.get("as_of") or None, sort=sort,
        collapse=args.get("collapse", "1") != "0", limit=limit, offset=(page - 1) * limit)


@bp.route("/")
@bp.route("/search")
def search_page() -> Any:
    """The search form; with a query, its results, facets and chart (a 400 with the form
    again for a query that cannot be read)."""
    wanted = search_request()
    context: dict[str, Any] = {"wanted": wanted, "found": None, "chart": None,
                               "sites": _sites()}
    if not wanted.q:  # the front page: what the collection holds
        return render_template("search.html", crawls=catalog().crawls(), **context)
    try:
        found = search(collection(), wanted, network_config())
    except QueryError as exc:
        # the form again, with the query as typed and what is wrong with it
        return render_template("search.html", error=str(exc), **context), 400
    if found["read_as"] == "url" and found["match_type"] == "exact":
        # as in Wayback machines: a URL opens its timeline (or, uncaptured, the URLs nearby)
        return redirect("/web/*/" + found["url"], 303)
    periods = found["facets"].get("periods")
    per_site = dict(list(periods["by_site"].items())[:len(COLOURS)]) if periods else {}
    chart = period_chart(periods["unit"], periods["periods"], per_site) if per_site else None
    return render_template("search.html", **{
        **context, "found": found, "chart": chart,
        "page": wanted.offset // wanted.limit + 1,
        "pages": (found["total"] + wanted.limit - 1) // wanted.limit})


@bp.route("/search.csv")
def search_csv() -> Response:
    """The query's results (up to 1,000) as CSV: per result its capture, snippet (as text) and
    presence in the page's latest capture; for a URL query, the URLs and their captures."""
    found = search(collection(), search_request(limit=1000), network_config())
    out = io.StringIO()
    writer = csv.writer(out)
    if found["read_as"] == "url":
        columns = ["url", "captures", "first_seen", "last_seen"]
        writer.writerow(columns)
        writer.writerows([result[c] for c in columns] for result in found["results"])
    else:
        writer.writerow(CSV_COLUMNS)
        writer.writerows(map(_csv_row, found["results"]))
    return Response(out.getvalue(), content_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": 'attachment; filename="search.csv"'})


# the first three as before this export grew: scripts read them by position
CSV_COLUMNS = ["url", "timestamp", "site", "title", "versions", "first_seen", "last_seen",
               "score", "date", "snippet", "captures", "page_captures", "in_latest",
               "latest_capture", "latest_status", "last_match", "first_missing"]


def _csv_row(result: dict[str, Any]) -> list[Any]:
    """One result as CSV_COLUMNS: dates in ISO 8601 UTC, the snippet without its marks."""
    presence = result["presence"]
    return [
        *(result[c] for c in CSV_COLUMNS[:8]), result["date"],
        "".join(text for text, _ in result["snippet_runs"]), result["captures"],
        presence["captures"], "yes" if presence["in_latest"] else "no",
        presence["latest"]["date"], presence["latest"]["status"],
        (presence["last_match"] or {}).get("date", ""),
        (presence["first_missing"] or {}).get("date", "")]


def _sites() -> list[Site]:
    config = network_config()
    return list(config.sites) if config else []  # none in a collection of imported WARCs
