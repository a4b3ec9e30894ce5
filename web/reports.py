"""The network change report (`/changes`, `/api/changes`) and watched phrases (`/watch/<name>`,
`/api/watch/<name>`): each page and its JSON twin are built from the same object as the CLI's
`palimpsest changes --json` and `palimpsest watch NAME --json`."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, render_template, request

from index.changes import change_report
from index.errors import UsageError
from index.watch import find_watch, watch_history
from web import collection, network_config

bp = Blueprint("reports", __name__)


def _report() -> dict[str, Any]:
    return change_report(collection(), request.args.get("from") or None,
                         request.args.get("to") or None, network_config())


@bp.route("/changes")
def changes_page() -> Any:
    report = _report()
    return render_template("reports/changes.html", report=report,
                           largest=max((e["ratio"] for e in report["changed"]), default=0))


@bp.route("/api/changes")
def api_changes() -> Any:
    return _report()


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
