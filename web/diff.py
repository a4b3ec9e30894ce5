"""Comparisons in the browser: `/diff/<ts1>/<ts2>/<url>` (inline, side by side and changes
only, with its receipt) and its JSON twin `/api/diff`.

Options other than the defaults ride on the second timestamp, as Wayback modifiers do:
`_full` (the full visible text), `_main` (the main text even if only the rest changed),
`_case` (case-only changes are no change), `_breaks` (moved paragraph breaks count). The
archived URL keeps its own query string, so options cannot go there.

Captures a browser took screenshots of are also compared as they looked: the two full-page
screenshots side by side, and `/diff/overlay/<ts1>/<ts2>/<url>`, the newer one with the
regions that differ from the older marked (index.compare.visual), as a PNG.
"""

from __future__ import annotations

import re
from typing import Any

from flask import Blueprint, Response, abort, redirect, render_template, request

from index.catalog import Capture
from index.compare.diff import Options, compare, default_pair, rules_for
from index.compare.excerpts import excerpts
from index.compare.permalinks import diff_url
from index.compare.visual import overlay_png, visual_diff
from index.errors import QueryError
from web.captures import screenshot_url, target_url, timeline
from web.replay import REPLAY_CSP
from web.state import catalog, collection, network_config

bp = Blueprint("diff", __name__)
_TS = re.compile(r"^\d{14}$")
_SPEC = re.compile(r"^(\d{14})((?:_(?:full|main|case|breaks))*)$")  # as diff_url writes them
CONTEXT_ROWS = 2  # unchanged paragraphs shown around each change side by side


@bp.route("/diff/<ts1>/<spec>/<path:url>")
def diff_page(ts1: str, spec: str, url: str) -> Any:
    url = target_url(url)
    match = _SPEC.match(spec)
    if not (_TS.match(ts1) and match):
        abort(400, "a diff compares two captures named by 14-digit timestamps (the second "
                   "may carry _full, _main, _case or _breaks)")
    ts2, flags = match.group(1), set(match.group(2).split("_")[1:])
    if "full" in flags and "main" in flags:
        abort(400, "_full and _main exclude each other")
    a, b = _pair(url, ts1, ts2)
    text = "full" if "full" in flags else "main" if "main" in flags else None
    case, breaks = "case" in flags, "breaks" in flags
    if a.timestamp > b.timestamp:
        return redirect(_href(b, a, text, case, breaks), 301)
    options = Options(full=None if text is None else text == "full", ignore_case=case,
                      ignore_whitespace=not breaks, rules=rules_for(network_config(), url))
    result = compare(collection(), a, b, options)
    full = result["options"]["text"] == "full"
    toggles = {"text": _href(a, b, "main" if full else "full", case, breaks),
               "case": _href(a, b, text, not case, breaks),
               "breaks": _href(a, b, text, case, not breaks)}
    ops = numbered(result["text"])
    return render_template("diff/diff.html", diff=result, a=a, b=b, ops=ops,
                           changes=result["changes"], rows=side_by_side(ops),
                           excerpts=excerpts(result["text"]), toggles=toggles,
                           visual=_visual(a, b))


@bp.route("/diff/overlay/<ts1>/<ts2>/<path:url>")
def overlay(ts1: str, ts2: str, url: str) -> Any:
    """The newer capture's full-page screenshot with the regions that differ from the older
    one's marked, as a PNG (sandboxed and never sniffed, as archived content is)."""
    url = target_url(url)
    if not (_TS.match(ts1) and _TS.match(ts2)):
        abort(400, "an overlay compares two captures named by 14-digit timestamps")
    a, b = _pair(url, ts1, ts2)
    shots = catalog().page_resources([a, b], "fullPage")
    png = overlay_png(collection(), shots[a.id], shots[b.id]) if len(shots) == 2 else None
    if png is None:
        abort(404, f"no two screenshots of {url} at {ts1} and {ts2} to compare")
    return Response(png, content_type="image/png", headers={
        "Content-Security-Policy": REPLAY_CSP, "X-Content-Type-Options": "nosniff",
        "Cache-Control": "max-age=86400"})


def _pair(url: str, ts1: str, ts2: str) -> tuple[Capture, Capture]:
    """The captures of `url` at exactly these times; 404 unless both are in the catalog."""
    a, b = catalog().nearest(url, ts1), catalog().nearest(url, ts2)
    if a is None or b is None or a.timestamp != ts1 or b.timestamp != ts2:
        abort(404, f"no captures of {url} at {ts1} and {ts2}")
    return a, b


def _visual(a: Capture, b: Capture) -> dict[str, Any] | None:
    """The diff page's visual comparison: each capture's full-page screenshot (None for one
    without), and, with both, how much differs and where the overlay is. None if neither
    capture has a screenshot."""
    shots = catalog().page_resources([a, b], "fullPage")
    if not shots:
        return None
    found: dict[str, Any] = {side: screenshot_url("fullPage", c) if c.id in shots else None
                             for side, c in (("a", a), ("b", b))}
    found["diff"] = (visual_diff(collection(), shots[a.id], shots[b.id])
                     if len(shots) == 2 else None)
    if found["diff"] is not None:
        found["overlay"] = f"/diff/overlay/{a.timestamp}/{b.timestamp}/{b.url}"
    return found


@bp.route("/diff/compare")
def pick() -> Any:
    """The timeline's form: two picked captures, to their permanent diff URL; picks that
    cannot be compared, back to the timeline with what is wrong with them."""
    url, ts1, ts2 = (request.args.get(k, "") for k in ("url", "from", "to"))
    if not url:
        raise QueryError("pick two captures to compare")
    if not (_TS.match(ts1) and _TS.match(ts2)):
        return timeline(url, (ts1, ts2), "unpicked")
    if ts1 == ts2:
        return timeline(url, (ts1, ts2), "same")
    first, second = sorted((ts1, ts2))
    return redirect(diff_url(first, second, url), 302)


@bp.route("/api/diff")
def api_diff() -> Any:
    """`url`, optional `from` and `to` (timestamps, nearest wins; default: the last two
    captures that differ), `full=1`, `ignore_case=1`, `count_breaks=1`."""
    url = request.args.get("url", "").strip()
    if not url:
        raise QueryError("give a URL: /api/diff?url=...&from=TS&to=TS")
    a, b = default_pair(catalog(), url, request.args.get("from") or None,
                        request.args.get("to") or None)
    full = {"1": True, "0": False}.get(request.args.get("full", ""))
    return compare(collection(), a, b, Options(
        full=full, ignore_case=request.args.get("ignore_case") == "1",
        ignore_whitespace=request.args.get("count_breaks") != "1",
        rules=rules_for(network_config(), b.url)))


def numbered(ops: list[dict[str, str]]) -> list[dict[str, Any]]:
    """The ops, each change numbered: a deletion and the insertion right after it are one
    change, and only the first of the two carries the anchor."""
    found, n = [], 0
    for i, op in enumerate(ops):
        joined = op["op"] == "insert" and i and ops[i - 1]["op"] == "delete"
        if op["op"] != "equal" and not joined:
            n += 1
        found.append({**op, "n": n if op["op"] != "equal" else None,
                      "anchor": op["op"] != "equal" and not joined})
    return found


def side_by_side(ops: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows of paragraphs: each row the older text (with its deletions) beside the newer
    (with its insertions). A row ends where both texts end a paragraph together; long runs
    of unchanged rows are folded."""
    rows: list[dict[str, Any]] = []
    row: dict[str, Any] = {"old": [], "new": [], "changed": False, "n": None}
    for op in ops:
        if op["op"] != "equal":
            side = "old" if op["op"] == "delete" else "new"
            row[side].append(op)
            row["changed"] = True
            row["n"] = row["n"] or op["n"]
            continue
        parts = op["text"].split("\n")
        for k, part in enumerate(parts):
            if part:
                for side in ("old", "new"):
                    row[side].append({"op": "equal", "text": part})
            if k < len(parts) - 1:  # a paragraph both texts end here
                rows.append(row)
                row = {"old": [], "new": [], "changed": False, "n": None}
    if row["old"] or row["new"]:
        rows.append(row)
    return _folded([r for r in rows if r["old"] or r["new"]])


def _folded(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rows with long runs of unchanged paragraphs folded into one row saying how many
    (the inline view shows them), keeping CONTEXT_ROWS of them next to each change."""
    changed = [i for i, r in enumerate(rows) if r["changed"]]
    if not changed:
        return rows
    keep = {i for c in changed for i in range(c - CONTEXT_ROWS, c + CONTEXT_ROWS + 1)}
    folded: list[dict[str, Any]] = []
    for i, row in enumerate(rows):
        if i in keep:
            folded.append(row)
        elif folded and "fold" in folded[-1]:
            folded[-1]["fold"] += 1
        else:
            folded.append({"fold": 1})
    return folded


def _href(a: Capture, b: Capture, text: str | None, case: bool, breaks: bool) -> str:
    return diff_url(a.timestamp, b.timestamp, b.url, text, case, breaks)
