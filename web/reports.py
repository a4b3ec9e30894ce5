"""The network change report (`/changes`, `/api/changes`) and watched phrases (`/watch/<name>`,
`/api/watch/<name>`): each page and its JSON twin are built from the same object as the CLI's
`palimpsest changes --json` and `palimpsest watch NAME --json`.

The change report narrows to sites (`site`, repeatable), kinds of change (`kind`: added,
removed, changed, status, limited; repeatable) and changed pages of at least a size (`min_ratio`,
the share of words changed, 0 to 1), on the page and in its JSON alike; `sort=visual` orders
the changed pages by how much of their screenshots differs.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, abort, render_template, request

from index.compare.changes import by_visual_change, change_report
from index.compare.report_filter import narrowed
from index.compare.watch import find_watch, watch_history
from index.errors import QueryError, UsageError
from web.state import collection, network_config

bp = Blueprint("reports", __name__)
# the sizes the page offers to narrow changed pages to (the API takes any)
MIN_RATIOS = (0.01, 0.05, 0.1, 0.25, 0.5)
SORTS = {"text": "share of words changed", "visual": "share of screenshot pixels changed"}
# keyed as index.compare.report_filter.KINDS
KIND_LABELS = {"added": "added", "removed": "removed", "changed": "changed",
               "status": "status changed", "limited": "not compared"}


def _report() -> dict[str, Any]:
    report = change_report(collection(), request.args.get("from") or None,
                           request.args.get("to") or None, network_config())
    sort = request.args.get("sort") or "text"
    if sort not in SORTS:
        raise QueryError(f"sort is one of {', '.join(SORTS)}, not {sort!r}")
    return by_visual_change(report) if sort == "visual" else report


def _narrowed(report: dict[str, Any]) -> dict[str, Any]:
    try:
        min_ratio = float(request.args.get("min_ratio") or 0)
    except ValueError:
        raise QueryError("min_ratio is a share of the words, from 0 to 1 (0.05 for 5%)") from None
    return narrowed(report, [s for s in request.args.getlist("site") if s],
                    [k for k in request.args.getlist("kind") if k], min_ratio)


@bp.route("/changes")
def changes_page() -> Any:
    full = _report()
    report = _narrowed(full)
    crawls = {"from": report["from"], "to": report["to"]}
    filters = report.get("filters", {"site": [], "kind": [], "min_ratio": 0})
    sort = report.get("sort", "text")
    asked = {**crawls, "site": filters["site"], "kind": filters["kind"],
             "min_ratio": filters["min_ratio"] or [], "sort": [] if sort == "text" else sort}
    return render_template(
        "reports/changes.html", report=report, full=full, filters=filters, kinds=KIND_LABELS,
        min_ratios=MIN_RATIOS, sorts=SORTS, sort=sort,
        visual=any(e.get("visual") is not None for e in full["changed"]),
        largest=max((e["ratio"] for e in full["changed"]), default=0),
        json_href="/api/changes?" + urlencode(asked, doseq=True),
        unfiltered_href="/changes?" + urlencode(crawls))


@bp.route("/api/changes")
def api_changes() -> Any:
    return _narrowed(_report())


def _history(name: str) -> dict[str, Any]:
    try:
        watch = find_watch(network_config(), name)
    except UsageError as exc:
        abort(404, str(exc))
    return watch_history(collection(), watch, incomplete=request.args.get("incomplete") == "1")


@bp.route("/watch/<name>")
def watch_page(name: str) -> Any:
    return render_template("reports/watch.html", history=_history(name))


@bp.route("/api/watch/<name>")
def api_watch(name: str) -> Any:
    return _history(name)
