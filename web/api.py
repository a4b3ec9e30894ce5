"""The JSON API: the same objects as the CLI's --json."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, request

from index.errors import CaptureNotFound, QueryError
from index.search.service import search
from web.search import search_request
from web.state import catalog, collection, network_config

bp = Blueprint("api", __name__, url_prefix="/api")


@bp.route("/search")
def api_search() -> Any:
    """The search JSON object, as `palimpsest search --json` prints it."""
    wanted = search_request()
    if not wanted.q:
        raise QueryError("give a query: /api/search?q=...")
    return search(collection(), wanted, network_config())


@bp.route("/captures")
def api_captures() -> Any:
    """The captures JSON list, as `palimpsest captures --json` prints it."""
    url = request.args.get("url", "").strip()
    if not url:
        raise QueryError("give a URL: /api/captures?url=...")
    captures = catalog().captures(url)
    if not captures:
        raise CaptureNotFound(f"no capture of {url}")
    return [c.to_json() for c in captures]
