"""Comparisons in the browser: `/diff/<ts1>/<ts2>/<url>` (inline, side by side, changes only,
with its receipt) and `/api/diff`."""

from __future__ import annotations

import re
from typing import Any

from flask import Blueprint, abort, redirect, render_template, request

from index.diff import Options, compare, default_pair, rules_for
from index.errors import QueryError
from web import catalog, collection
from web.captures import target_url

bp = Blueprint("diff", __name__)
_TS = re.compile(r"^\d{14}$")


def _config():
    root = collection()
    return root.load_config() if root.config_path.exists() else None


def _options(url: str, full: bool = False) -> Options:
    return Options(full=True if full else None, rules=rules_for(_config(), url))


@bp.route("/diff/<ts1>/<ts2>/<path:url>")
def diff_page(ts1: str, ts2: str, url: str) -> Any:
    url = target_url(url)
    if not (_TS.match(ts1) and _TS.match(ts2)):
        abort(400, "a diff compares two captures named by 14-digit timestamps")
    a, b = catalog().nearest(url, ts1), catalog().nearest(url, ts2)
    if a is None or b is None or a.timestamp != ts1 or b.timestamp != ts2:
        abort(404, f"no captures of {url} at {ts1} and {ts2}")
    if a.timestamp > b.timestamp:
        a, b = b, a
    result = compare(collection(), a, b, _options(url))
    return render_template("diff/diff.html", diff=result, a=a, b=b,
                           changes=sum(op["op"] != "equal" for op in result["text"]),
                           rows=_side_by_side(result["text"]))


@bp.route("/diff/compare")
def pick() -> Any:
    """The timeline's form: two picked captures, to their permanent diff URL."""
    url, ts1, ts2 = (request.args.get(k, "") for k in ("url", "from", "to"))
    if not (url and _TS.match(ts1) and _TS.match(ts2)):
        raise QueryError("pick two captures to compare")
    first, second = sorted((ts1, ts2))
    return redirect(f"/diff/{first}/{second}/{url}", 302)


@bp.route("/api/diff")
def api_diff() -> Any:
    url = request.args.get("url", "").strip()
    if not url:
        raise QueryError("give a URL: /api/diff?url=...&from=TS&to=TS")
    a, b = default_pair(catalog(), url, request.args.get("from"), request.args.get("to"))
    return compare(collection(), a, b, _options(url, request.args.get("full") == "1"))


def _side_by_side(ops: list[dict[str, str]]) -> list[tuple[str, str, str]]:
    """Rows of (kind, old text, new text): equal text on both sides, a deletion followed by
    an insertion side by side as one replacement."""
    rows: list[tuple[str, str, str]] = []
    pending_delete = None
    for op in ops:
        if op["op"] == "delete":
            pending_delete = op["text"]
        elif op["op"] == "insert":
            rows.append(("change", pending_delete or "", op["text"]))
            pending_delete = None
        else:
            if pending_delete is not None:
                rows.append(("change", pending_delete, ""))
                pending_delete = None
            rows.append(("equal", op["text"], op["text"]))
    if pending_delete is not None:
        rows.append(("change", pending_delete, ""))
    return rows
