"""Comparisons in the browser: `/diff/<ts1>/<ts2>/<url>` (inline, side by side and changes
only, with its receipt) and its JSON twin `/api/diff`.

Options other than the defaults ride on the second timestamp, as Wayback modifiers do:
`_full` (the full visible text), `_main` (the main text even if only the rest changed),
`_case` (case-only changes are no change), `_breaks` (moved paragraph breaks count). The
archived URL keeps its own query string, so options cannot go there.

Captures a browser took screenshots of are also compared as they looked: the two full-page
screenshots side by side, and `/diff/overlay/<ts1>/<ts2>/<url>`, the newer one with the
regions that differ from the older marked (index.compare.visual), as a PNG.

`/diff/evidence/<ts1>/<spec>/<url>` downloads the comparison's evidence package
(index.wacz.evidence): a signed WACZ of the two captures with their requisites, the diff, its
receipt and the diff as a self-contained page. It is written to a temporary file and streamed,
at most `_EVIDENCE_AT_ONCE` at a time; its size is that of two pages with their requisites.
"""

from __future__ import annotations

import re
import shutil
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from flask import Blueprint, Response, abort, redirect, render_template, request

from index.catalog import Capture
from index.compare.diff import Options, compare, default_pair, rules_for
from index.compare.excerpts import excerpts
from index.compare.permalinks import diff_url
from index.compare.visual import overlay_png, visual_diff
from index.errors import QueryError
from index.wacz.evidence import diff_evidence
from web.captures import screenshot_url, target_url, timeline
from web.replay import REPLAY_CSP
from web.rewrite import parse_html, requisite_links
from web.state import catalog, collection, network_config

bp = Blueprint("diff", __name__)
_TS = re.compile(r"^\d{14}$")
_SPEC = re.compile(r"^(\d{14})((?:_(?:full|main|case|breaks))*)$")  # as diff_url writes them
CONTEXT_ROWS = 2  # unchanged paragraphs shown around each change side by side
_EVIDENCE_AT_ONCE = threading.BoundedSemaphore(2)  # evidence packages being written
_CHUNK = 1 << 20


@bp.route("/diff/<ts1>/<spec>/<path:url>")
def diff_page(ts1: str, spec: str, url: str) -> Any:
    a, b, options = _compared(url, ts1, spec)
    text, case, breaks = options.text, options.ignore_case, not options.ignore_whitespace
    if a.timestamp > b.timestamp:
        return redirect(_href(b, a, text, case, breaks), 301)
    result = compare(collection(), a, b, options)
    full = result["options"]["text"] == "full"
    toggles = {"text": _href(a, b, "main" if full else "full", case, breaks),
               "case": _href(a, b, text, not case, breaks),
               "breaks": _href(a, b, text, case, not breaks)}
    ops = numbered(result["text"])
    return render_template("diff/diff.html", diff=result, a=a, b=b, ops=ops,
                           changes=result["changes"], rows=side_by_side(ops),
                           excerpts=excerpts(result["text"]), toggles=toggles,
                           visual=_visual(a, b),
                           evidence=f"/diff/evidence/{a.timestamp}/{spec}/{b.url}")


def _compared(url: str, ts1: str, spec: str) -> tuple[Capture, Capture, Options]:
    """The two captures a diff URL names and the options its second timestamp carries;
    400 for a malformed one, 404 unless both captures are in the catalog."""
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
    return a, b, Options(full=None if text is None else text == "full",
                         ignore_case="case" in flags, ignore_whitespace="breaks" not in flags,
                         rules=rules_for(network_config(), url))


@bp.route("/diff/evidence/<ts1>/<spec>/<path:url>")
def evidence(ts1: str, spec: str, url: str) -> Any:
    """The comparison's evidence package, a signed WACZ, as a download (the same options
    as the diff page it is asked from)."""
    a, b, options = _compared(url, ts1, spec)
    a, b = sorted((a, b), key=lambda c: (c.timestamp, c.id))
    if not _EVIDENCE_AT_ONCE.acquire(blocking=False):
        abort(503, "evidence packages are being written for others: try again in a moment")
    work = Path(tempfile.mkdtemp(prefix="palimpsest-evidence-"))
    try:
        package = work / "evidence.wacz"
        diff_evidence(collection(), a, b, package, options=options, find=page_requisites)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    finally:
        _EVIDENCE_AT_ONCE.release()
    answer = Response(_chunks_then_remove(package, work), content_type="application/wacz",
                      headers={"Content-Disposition": f'attachment; filename="'
                               f'{evidence_name(a, b)}"',
                               "Content-Length": str(package.stat().st_size)})
    answer.call_on_close(lambda: shutil.rmtree(work, ignore_errors=True))
    return answer


def _chunks_then_remove(path: Path, work: Path) -> Iterator[bytes]:
    try:
        with open(path, "rb") as stream:
            while chunk := stream.read(_CHUNK):
                yield chunk
    finally:
        shutil.rmtree(work, ignore_errors=True)


def evidence_name(a: Capture, b: Capture) -> str:
    """The file name an evidence package downloads as: the host and the two times."""
    host = re.sub(r"[^a-z0-9.-]+", "-", b.url.split("//", 1)[-1].split("/", 1)[0].lower())
    return f"evidence-{host or 'page'}-{a.timestamp}-{b.timestamp}.wacz"


def page_requisites(text: str, page_url: str) -> list[str]:
    """What an archived page loads (stylesheets, scripts, images, icons), as replay finds
    it: the requisite finder of index.wacz.evidence."""
    doc = parse_html(text)
    return list(requisite_links(doc, page_url)) if doc is not None else []


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
