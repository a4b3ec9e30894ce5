"""Timelines, the capture view and the replay of archived documents (Wayback-style URLs).

    /web/*/<url>           every capture of a URL
    /web/<ts>/<url>        a capture in the archive's frame: banner, tabs, sandboxed page
    /web/<ts><mod>_/<url>  the archived document itself (mp_ page, im_ js_ cs_ if_ id_)

Archived documents are hostile: they are served only with `Content-Security-Policy: sandbox`
(an opaque origin: their scripts can touch neither our pages, cookies nor storage) and shown
in an iframe sandboxed the same way.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any
from urllib.parse import urljoin

import lxml.html
from flask import Blueprint, Response, abort, redirect, render_template, request
from lxml import etree

from index.catalog import Capture, pad_timestamp
from index.diff import compare
from index.errors import CaptureNotFound, DamagedRecord
from index.extract import decode, extract
from index.warc_reader import read_payload
from web import catalog, collection
from web.rewrite import archive_path, rewrite_css, rewrite_html

bp = Blueprint("captures", __name__)

_SPEC = re.compile(r"^(\d{1,14})(mp_|im_|js_|cs_|if_|id_)?$")
SANDBOX = "sandbox allow-scripts allow-forms allow-popups"
# the archived document may load only from the archive (no live web), in an opaque origin
REPLAY_CSP = (f"{SANDBOX}; default-src 'self' data: blob: 'unsafe-inline' 'unsafe-eval'; "
              "form-action 'none'")
TIMELINE_RATIOS = 25
FRAME_SANDBOX = "allow-scripts allow-forms allow-popups allow-top-navigation-by-user-activation"


@dataclass(frozen=True)
class Archived:
    """A capture's HTTP head and decoded body, read from the record holding its payload."""

    capture: Capture
    status: int
    headers: list[tuple[str, str]]
    body: bytes

    @property
    def content_type(self) -> str:
        for name, value in self.headers:
            if name.lower() == "content-type":
                return value
        return self.capture.mime or "application/octet-stream"

    @property
    def mime(self) -> str:
        return self.content_type.split(";")[0].strip().lower()

    def header(self, wanted: str) -> str | None:
        return next((v for k, v in self.headers if k.lower() == wanted.lower()), None)


def target_url(url: str) -> str:
    """The archived URL from the route: the query string is the archived URL's own, and a
    proxy or browser may have folded `http://` to `http:/`."""
    url = re.sub(r"^(https?):/+", r"\1://", url)
    if request.query_string:
        url += "?" + request.query_string.decode("latin-1")
    return url


def load(capture: Capture) -> Archived:
    """Read a capture's payload from its WARC record (a revisit's from the original)."""
    if not capture.has_payload:
        raise CaptureNotFound(f"the payload of {capture.url} at {capture.timestamp} is not in "
                              "the collection (a revisit whose original is missing)")
    path = collection().inside(capture.payload_file)
    try:
        head, body = read_payload(path, capture.payload_offset, capture.payload_length)
    except DamagedRecord as exc:
        abort(502, f"the archived record is damaged: {exc}")
    status = int(head.get_statuscode() or capture.status or 200)
    return Archived(capture, status, list(head.headers), body)


@bp.route("/web/<spec>/<path:url>")
def web(spec: str, url: str) -> Any:
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
    if capture.timestamp != pad_timestamp(timestamp) or capture.url != url:
        return redirect(archive_path(capture.timestamp, capture.url, modifier), 302)
    if modifier:
        return replay(capture, modifier)
    return capture_view(capture, "page")


@bp.route("/view/<any(text, headers, record):view>/<timestamp>/<path:url>")
def capture_tab(view: str, timestamp: str, url: str) -> Any:
    """The other tabs of a capture: extracted text, HTTP headers, the WARC record. (Not
    query parameters of /web/...: those belong to the archived URL.)"""
    url = target_url(url)
    if not timestamp.isdigit() or len(timestamp) != 14:
        abort(400, "the capture's timestamp must have 14 digits")
    capture = catalog().nearest(url, timestamp)
    if capture is None or capture.timestamp != timestamp:
        return not_found(url, timestamp)
    return capture_view(capture, view)


def timeline(url: str) -> Any:
    captures = catalog().captures(url)
    if not captures:
        return not_found(url, None)
    rows, previous, measured = [], None, 0
    for capture in captures:
        changed = previous is not None and capture.digest != previous.digest
        ratio = None
        # how much changed, for the most recent changes (each is a comparison of payloads)
        if changed and measured < TIMELINE_RATIOS and previous.has_payload \
                and capture.has_payload:
            ratio = compare(collection(), previous, capture)["ratio"]
            measured += 1
        rows.append({"capture": capture, "changed": changed, "first": previous is None,
                     "previous": previous, "ratio": ratio})
        previous = capture
    return render_template("captures/timeline.html", url=url, rows=rows,
                           captures_json=[c.to_json() for c in captures])


def capture_view(capture: Capture, view: str) -> Any:
    captures = catalog().captures(capture.url)
    index = next(i for i, c in enumerate(captures) if c.id == capture.id)
    if view == "record":
        return _record_download(capture)
    archived = load(capture)
    context: dict[str, Any] = {
        "capture": capture, "archived": archived, "view": view,
        "previous": captures[index - 1] if index else None,
        "next": captures[index + 1] if index + 1 < len(captures) else None,
        "count": len(captures), "position": index + 1,
        "frame_src": archive_path(capture.timestamp, capture.url, "mp_"),
        "frame_sandbox": FRAME_SANDBOX,
    }
    if view == "text":
        context["extracted"] = extract(archived.body, archived.mime, capture.url)
    if view == "page" and archived.mime in ("text/html", "application/xhtml+xml"):
        context["other_times"] = _requisites_from_other_times(archived, capture)
    return render_template("captures/capture.html", **context), 200, _memento_headers(capture)


def replay(capture: Capture, modifier: str) -> Response:
    archived = load(capture)
    headers = {"Content-Security-Policy": REPLAY_CSP, "X-Content-Type-Options": "nosniff",
               "Cache-Control": "max-age=86400", **_memento_headers(capture)}
    location = archived.header("Location")
    if 300 <= archived.status < 400 and location:
        target = urljoin(capture.url, location)
        return redirect(archive_path(capture.timestamp, target, modifier), 302)
    body, content_type = archived.body, archived.content_type
    if modifier != "id_":
        charset = _charset(content_type)
        if archived.mime in ("text/html", "application/xhtml+xml") and modifier in ("mp_",
                                                                                   "if_"):
            body = rewrite_html(decode(body, charset), capture.url, capture.timestamp)
            content_type = "text/html; charset=utf-8"
        elif archived.mime == "text/css":
            body = rewrite_css(decode(body, charset), capture.url,
                               capture.timestamp).encode("utf-8")
            content_type = "text/css; charset=utf-8"
    return Response(body, status=archived.status, content_type=content_type, headers=headers)


def not_found(url: str, timestamp: str | None) -> Any:
    """A helpful 404: the nearest captures of this URL, or of URLs beginning like it."""
    captures = catalog().captures(url)
    similar: list[Capture] = []
    if not captures:
        stem = url.split("?")[0].rstrip("/")
        stem = stem[: stem.rfind("/") + 1] if stem.count("/") > 2 else stem
        seen: set[str] = set()
        for c in catalog().prefix(stem, limit=200):
            if c.url not in seen and c.status and c.status < 400:
                seen.add(c.url)
                similar.append(c)
            if len(similar) >= 10:
                break
    nearest = sorted(captures, key=lambda c: abs(int(c.timestamp) - int(
        pad_timestamp(timestamp or c.timestamp))))[:5]
    return render_template("captures/not_found.html", url=url, timestamp=timestamp,
                           nearest=nearest, similar=similar), 404


def _record_download(capture: Capture) -> Response:
    path = collection().inside(capture.warc_file)
    with open(path, "rb") as fh:
        fh.seek(capture.offset)
        data = fh.read(capture.length)
    name = f"{capture.timestamp}-{capture.id}.warc" + (".gz" if data[:2] == b"\x1f\x8b" else "")
    return Response(data, content_type="application/warc",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


def _requisites_from_other_times(archived: Archived, capture: Capture) -> list[Capture]:
    """The page's stylesheets, scripts and images whose nearest capture comes from another
    crawl than the page's (so the banner can say the page is shown with older or newer
    parts)."""
    try:
        doc = lxml.html.document_fromstring(archived.body)
    except (etree.ParserError, ValueError):
        return []
    links = doc.xpath("//img/@src | //script/@src | //link[@rel='stylesheet']/@href")
    others = []
    for url in sorted({urljoin(capture.url, link.strip()) for link in links}):
        nearest = catalog().nearest(url, capture.timestamp)
        if nearest is not None and nearest.crawl != capture.crawl:
            others.append(nearest)
    return others


def _memento_headers(capture: Capture) -> dict[str, str]:
    moment = datetime.strptime(capture.timestamp, "%Y%m%d%H%M%S").replace(tzinfo=UTC)
    return {
        "Memento-Datetime": format_datetime(moment, usegmt=True),
        "Link": (f'<{capture.url}>; rel="original", <{request.host_url}timegate/{capture.url}>; '
                 f'rel="timegate", <{request.host_url}timemap/link/{capture.url}>; '
                 'rel="timemap"; type="application/link-format"'),
    }


def _charset(content_type: str) -> str | None:
    for param in content_type.split(";")[1:]:
        name, _, value = param.strip().partition("=")
        if name.lower() == "charset":
            return value.strip("\"' ")
    return None
