"""The search page (`/`, `/search`) and its CSV export."""

from __future__ import annotations

import csv
import io
from typing import Any

from flask import Blueprint, Response, render_template, request

from index.errors import QueryError
from index.search import SearchRequest, search
from web import catalog, collection
from web.chart import month_chart

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
    wanted = search_request()
    crawls = catalog().crawls()
    if not wanted.q:
        return render_template("search.html", wanted=wanted, found=None, crawls=crawls,
                               sites=_sites(), chart=None)
    found = search(collection(), wanted)
    per_site = dict(list(found["facets"]["site_month"].items())[:6])
    chart = month_chart(per_site) if per_site else None
    pages = (found["total"] + wanted.limit - 1) // wanted.limit
    return render_template("search.html", wanted=wanted, found=found, crawls=crawls,
                           sites=_sites(), chart=chart, page=wanted.offset // wanted.limit + 1,
                           pages=pages)


@bp.route("/search.csv")
def search_csv() -> Response:
    found = search(collection(), search_request(limit=1000))
    out = io.StringIO()
    writer = csv.writer(out)
    columns = ["url", "timestamp", "site", "title", "versions", "first_seen", "last_seen",
               "score"]
    writer.writerow(columns)
    for result in found["results"]:
        writer.writerow([result.get(c, "") for c in columns])
    return Response(out.getvalue(), content_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": 'attachment; filename="search.csv"'})


def _sites() -> list[str]:
    root = collection()
    if not root.config_path.exists():  # a collection of imported WARCs only
        return []
    return [s.name for s in root.load_config().sites]
