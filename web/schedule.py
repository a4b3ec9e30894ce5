"""The schedule (`/schedule`, `/api/schedule`): each page's estimated change rate, visits, last
change and next due, per site and per URL, and what `palimpsest monitor` fetches next; the
same object as `palimpsest schedule --json` (index.schedule.report), its URLs a page at a time.

Read-only, as the whole UI is: the pages' histories are read from the catalog and kept until it
changes (fingerprints read from payloads are not written back); the plan is made afresh on
each request, as time and the monitor's spent budget move on.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify, render_template, request

from index.errors import QueryError
from index.schedule.history import page_histories
from index.schedule.report import schedule_report
from web.state import collection, network_config, state

bp = Blueprint("schedule", __name__)
PAGE_SIZE = 100


def _schedule() -> dict[str, Any]:
    try:
        page = max(1, int(request.args.get("page", "1")))
    except ValueError:
        raise QueryError("page must be a whole number") from None
    config = network_config()
    histories = state().recall(("schedule", config.digest if config else None),
                               lambda: page_histories(collection(), config, remember=False))
    report = schedule_report(collection(), config, histories=histories)
    shown = report.to_json(PAGE_SIZE, (page - 1) * PAGE_SIZE)
    shown["page"], shown["pages"] = page, max(1, -(-shown["total"] // PAGE_SIZE))
    return shown


@bp.get("/schedule")
def schedule_page() -> str:
    return render_template("schedule.html", schedule=_schedule())


@bp.get("/api/schedule")
def schedule_api() -> Any:
    return jsonify(_schedule())
