"""The network change report (`/changes`, `/api/changes`) and watched phrases (`/watch/<name>`)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, render_template, request

from index.changes import change_report
from web import collection

bp = Blueprint("reports", __name__)


def _report() -> dict[str, Any]:
    return change_report(collection(), request.args.get("from") or None,
                         request.args.get("to") or None)


@bp.route("/changes")
def changes_page() -> Any:
    return render_template("reports/changes.html", report=_report())


@bp.route("/api/changes")
def api_changes() -> Any:
    return _report()


@bp.route("/watch/<name>")
def watch_page(name: str) -> Any:
    report = _report()
    if name not in report["watch"]:
        abort(404, f"no watched phrase named {name!r} in the network config")
    return render_template("reports/watch.html", report=report, name=name,
                           watch=report["watch"][name])
