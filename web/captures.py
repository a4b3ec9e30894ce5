"""Timelines and the capture view (Wayback-style URLs).

    /web/*/<url>                     every capture of a URL
    /web/<ts>/<url>                  a capture in the archive's frame: banner, tabs, the page
    /web/<ts><mod>_/<url>            the archived document itself (web/replay.py)
    /view/<tab>/<ts>/<url>           the capture's other tabs: text, headers, record
    /screenshot/<kind>/<ts>/<url>    a browser capture's screenshot (thumbnail, fullPage)

`<ts>` may have 1 to 14 digits: the archive answers with the nearest capture, redirecting to
its exact time (requisites excepted: they load the nearest capture at once).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, Response, abort, current_app, redirect, render_template, request

from index.catalog import Capture
from index.compare.diff import change_ratio, rules_for
from index.extract import HTML_TYPES, extract
from index.timestamps import pad_timestamp
from web.replay import (
    RENDERED,
    RENDERED_SANDBOX,
    REPLAY_CSP,
    REQUISITE_MODIFIERS,
    SANDBOX,
    Archived,
    OtherTime,
    load,
    load_rendered,
    memento_headers,
    record_download,
    record_name,
    replay,
    requisites_from_other_times,
)
from web.rewrite import archive_path
from web.state import catalog, collection, network_config, state
from web.text_view import tab_capture, text_tab_url, text_view

bp = Blueprint("captures", __name__)
bp.add_app_template_global(text_tab_url)

_SPEC = re.compile(r"^(\d{1,14})(mp_|im_|js_|cs_|if_|id_|dom_)?$")
TIMELINE_RATIOS = 25  # changes measured per timeline (each reads and diffs two payloads)
NEAREST_SHOWN = 5
SIMILAR_SHOWN = 10


def target_url(url: str) -> str:
    """The archived URL from the route: the query string is the archived URL's own, and a
    proxy or browser may have folded `http://` to `http:/`."""
    url = re.sub(r"^(https?):/+", r"\1://", url)
    if request.query_string:
        url += "?" + request.query_string.decode("latin-1")
    return url


@bp.route("/web/<spec>/<path:url>")
def web(spec: str, url: str) -> Any:
    """A Wayback-style URL: the timeline (`*`), a capture view, or an archived document."""
    url = target_url(url)
    if spec == "*":
        return timeline(url)
    match = _SPEC.match(spec)
    if not match:
        abort(400, f"{spec!r} is not a 1-14 digit timestamp (with an optional modifier)")
    timestamp, modifier = match.group(1), match.group(2) or ""
    capture = catalog().nearest(url, timestamp)
    if capture is None:
        return not_found(url, timestamp)
    asked = pad_timestamp(timestamp)
    exact = capture.timestamp == asked
    if modifier in REQUISITE_MODIFIERS:
        return replay(capture, modifier, asked=asked)
    # only the time decides: the URL may be spelt differently (http/https, www., escapes)
    # and still be the same capture, and redirecting on spelling could loop
    if not exact:
        return redirect(archive_path(capture.timestamp, capture.url, modifier), 302)
    if modifier:
        return replay(capture, modifier)
    return capture_view(capture, "page")


@bp.route("/view/<any(text, headers, record, served):view>/<timestamp>/<path:url>")
def capture_tab(view: str, timestamp: str, url: str) -> Any:
    """The other tabs of a capture: extracted text, HTTP headers, the WARC record, and for a
    browser capture the page as served (its page tab shows it as rendered). (Not query
    parameters of /web/...: those belong to the archived URL.)"""
    url = target_url(url)
    if not timestamp.isdigit() or len(timestamp) != 14:
        abort(400, "the capture's timestamp must have 14 digits")
    if view == "text":
        capture, args = tab_capture(catalog(), url, timestamp)
    else:
        capture, args = catalog().nearest(url, timestamp), {}
    if capture is None or capture.timestamp != timestamp:
        return not_found(url, timestamp)
    if view == "record":
        return record_download(capture)
    return capture_view(capture, view, args)


@bp.route("/screenshot/<any(thumbnail, fullPage):kind>/<timestamp>/<path:url>")
def screenshot(kind: str, timestamp: str, url: str) -> Any:
    """The screenshot (`thumbnail` or `fullPage`) a browser capture took of the page captured
    at `timestamp` (14 digits), from its resource record, as an image: sandboxed and never
    sniffed, as all archived content is."""
    url = target_url(url)
    if not timestamp.isdigit() or len(timestamp) != 14:
        abort(400, "the page's timestamp must have 14 digits")
    page = catalog().nearest(url, timestamp)
    shot = None
    if page is not None and page.timestamp == timestamp:
        shot = catalog().page_resources([page], kind).get(page.id)
    if shot is None:
        abort(404, f"no {kind} screenshot of {url} at {timestamp}")
    archived = load(shot)
    if not archived.mime.startswith("image/") or archived.cut:
        abort(404, f"the {kind} record of {url} at {timestamp} holds no whole image")
    return Response(archived.body, content_type=archived.mime, headers={
        "Content-Security-Policy": REPLAY_CSP, "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer", "Cache-Control": "max-age=86400"})


def screenshot_url(kind: str, page: Capture) -> str:
    """Where `screenshot` serves a page capture's screenshot of this `kind`."""
    return f"/screenshot/{kind}/{page.timestamp}/{page.url}"


def screenshots(pages: list[Capture], kind: str) -> dict[int, str]:
    """The `screenshot_url` of each of these page captures that has one, by capture id."""
    found = catalog().page_resources(pages, kind)
    return {page.id: screenshot_url(kind, page) for page in pages if page.id in found}


@bp.app_template_filter("size")
def size(count: int) -> str:
    """A number of bytes as people read it: 512 B, 12 KB, 3.4 MB."""
    if count < 1024:
        return f"{count} B"
    value, unit = count / 1024, "KB"
    for bigger in ("MB", "GB"):
        if value < 1024:
            break
        value, unit = value / 1024, bigger
    return f"{value:.1f} {unit}" if value < 10 else f"{value:,.0f} {unit}"


def timeline(url: str, picked: tuple[str, str] | None = None, problem: str | None = None
             ) -> Any:
    """Every capture of `url`, oldest first, each with whether (and how much) it changed;
    the compare form with the `picked` timestamps (default: the last two captures) chosen.
    With a `problem`, the form sent back with picks that cannot be compared ("same": one
    capture twice; "unpicked": a column left empty), the page says so above the form, and
    the answer is a 400."""
    captures = catalog().captures(url)
    if not captures:
        return not_found(url, None)
    if picked is None:
        picked = (captures[-2].timestamp if len(captures) > 1 else "", captures[-1].timestamp)
    changed = [i for i, c in enumerate(captures)
               if i and c.text_digest != captures[i - 1].text_digest]
    # how much each change changed, for the most recent ones: the diff page's own figure,
    # with the same noise rules
    measured = {i for i in changed[-TIMELINE_RATIOS:]
                if captures[i].has_payload and captures[i - 1].has_payload}
    root, rules = collection(), rules_for(network_config(), url)
    rows = []
    for i, capture in enumerate(captures):
        previous = captures[i - 1] if i else None
        ratio = change_ratio(root, previous, capture, rules) if i in measured else None
        rows.append({"capture": capture, "changed": i in changed, "first": i == 0,
                     "previous": previous, "ratio": ratio})
    page = render_template("captures/timeline.html", url=url, rows=rows, picked=picked,
                           problem=problem, unmeasured=len(changed) - len(measured),
                           thumbnails=screenshots(captures, "thumbnail"))
    return page, 400 if problem else 200


def capture_view(capture: Capture, view: str, args: dict[str, str] | None = None) -> Any:
    """The banner and one tab (`page`, `served`, `text`, `headers`) of a capture, with its
    Memento headers; `args` the text tab's own (web.text_view). A browser capture's page
    tab frames it as rendered (scripts off), `served` as the server sent it."""
    captures = catalog().captures(capture.url)
    index = next(i for i, c in enumerate(captures) if c.id == capture.id)
    previous = captures[index - 1] if index else None
    archived = load(capture)
    as_rendered = capture.rendered and view == "page"
    context: dict[str, Any] = {
        "capture": capture, "archived": archived, "view": view, "previous": previous,
        "next": captures[index + 1] if index + 1 < len(captures) else None,
        "count": len(captures), "position": index + 1,
        # a browser capture's shell may be the same while its rendered DOM is not
        "same_as_previous": previous is not None and previous.text_digest == capture.text_digest,
        "frame_src": archive_path(capture.timestamp, capture.url,
                                  RENDERED if as_rendered else "mp_"),
        "frame_sandbox": RENDERED_SANDBOX if as_rendered else SANDBOX,
        # what a browser shows in a sandboxed frame (no plugins there: a PDF is offered)
        "framable": archived.mime in HTML_TYPES or archived.mime.startswith(("image/", "text/")),
        "redirect": archived.redirect_target,
        "record_name": record_name(capture),
        "thumbnail": screenshots([capture], "thumbnail").get(capture.id),
        "full_page": screenshots([capture], "fullPage").get(capture.id),
    }
    if view == "text":
        read = load_rendered(capture) if capture.rendered else archived  # the text indexed
        extracted = extract(read.body, read.mime, capture.url, read.charset)
        context["extracted"] = extracted
        context["text"] = text_view(extracted, args or {}) if extracted else None
    if view in ("page", "served") and archived.mime in HTML_TYPES:
        context["other_times"] = _other_times(archived)
    return render_template("captures/capture.html", **context), 200, memento_headers(capture)


def _other_times(archived: Archived) -> list[OtherTime]:
    """requisites_from_other_times, remembered per capture until the catalog changes (its
    lookups are half the cost of a capture view, and a capture is viewed again and again)."""
    skew = 3600 * float(current_app.config["REQUISITE_SKEW_HOURS"])
    return state().recall(("other_times", archived.capture.id, skew),
                          lambda: requisites_from_other_times(archived, skew))


def not_found(url: str, timestamp: str | None) -> Any:
    """A helpful 404: the nearest captures of this URL, else captured URLs that share the
    longest leading part of it (its folder, then the folder above, up to the host)."""
    captures = catalog().captures(url)
    moment = int(pad_timestamp(timestamp)) if timestamp else None
    nearest = sorted(captures, key=lambda c: abs(int(c.timestamp) - (moment or 0)))
    similar: list[Capture] = []
    for stem in ([] if captures else _parents(url)):
        seen: set[str] = set()
        for c in catalog().prefix(stem, limit=500):
            if c.url not in seen and c.status and c.status < 400:
                seen.add(c.url)
                similar.append(c)
            if len(similar) >= SIMILAR_SHOWN:
                break
        if similar:
            break
    return render_template("captures/not_found.html", url=url, timestamp=timestamp,
                           nearest=nearest[:NEAREST_SHOWN], similar=similar), 404


def _parents(url: str) -> Iterator[str]:
    """The folders above `url`, nearest first, down to its host's root."""
    try:
        parts = urlsplit(url if "://" in url else "http://" + url)
    except ValueError:  # no URL ("http://[oops/"): no folders
        return
    if not parts.netloc:
        return
    path = parts.path
    while True:
        path = path.rstrip("/")
        cut = path.rfind("/")
        path = path[: cut + 1] if cut >= 0 else "/"
        yield f"{parts.scheme}://{parts.netloc}{path}"
        if path == "/":
            return
