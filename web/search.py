"""The search page (`/`, `/search`) and its CSV export."""

from __future__ import annotations

import csv
import io
from typing import Any

from flask import Blueprint, Response, render_template, request

from index.config import Site
from index.errors import QueryError
from index.search import SearchRequest, search
from web import catalog, collection, network_config
from web.chart import COLOURS, month_chart

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
    per_site = dict(list(found["facets"]["site_month"].items())[:len(COLOURS)])
    return render_template("search.html", **{
        **context, "found": found, "chart": month_chart(per_site) if per_site else None,
        "page": wanted.offset // wanted.limit + 1,
        "pages": (found["total"] + wanted.limit - 1) // wanted.limit})


@bp.route("/search.csv")
def search_csv() -> Response:
    """The query's results (up to 1,000) as CSV."""
    found = search(collection(), search_request(limit=1000), network_config())
    out = io.StringIO()
    writer = csv.writer(out)
    columns = ["url", "timestamp", "site", "title", "versions", "first_seen", "last_seen",
               "score"]
    writer.writerow(columns)
    for result in found["results"]:
        writer.writerow([result.get(c, "") for c in columns])
    return Response(out.getvalue(), content_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": 'attachment; filename="search.csv"'})


def _sites() -> list[Site]:
    config = network_config()
    return list(config.sites) if config else []  # none in a collection of imported WARCs
