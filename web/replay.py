"""Serving archived documents: the payload read from its WARC record, rewritten into the archive,
behind headers that keep it away from the UI's origin.

Archived documents are hostile. Each is served with `Content-Security-Policy: sandbox` (an
opaque origin: its scripts reach neither our pages, cookies nor storage, and may load only
from the archive, never the live web) and shown in an iframe sandboxed the same way.

A browser capture is also replayed as rendered (the `dom_` modifier): the DOM the crawler's
browser stored, rewritten into the archive like any page, with no script at all (a sandbox
without allow-scripts, and `script-src 'none'`): its scripts ran at capture time, and what
they wrote is in the DOM. Its `<noscript>` elements are dropped, as that browser showed none.
As no script of ours runs there either (web/static/replay-frame.js does in the other views),
its links name the linked capture's view and open it in the top window, which the frame's
sandbox allows on a reader's click only: the banner is then the new page's, rendered by the
server, and nothing the archived page says can put another URL in it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from email.utils import format_datetime

from flask import Response, abort, redirect, request

from index.catalog import Capture
from index.errors import CaptureNotFound, DamagedRecord
from index.extract import HTML_TYPES, charset_of, decode, media_type
from index.inflate import DEFAULT_LIMIT
from index.timestamps import timestamp_time
from index.warc_reader import read_content
from web.rewrite import (
    absolute_url,
    archive_path,
    link_value,
    parse_html,
    requisite_links,
    rewrite_css,
    rewrite_html,
)
from web.state import catalog, collection, network_config

SANDBOX = "allow-scripts allow-forms allow-popups"
# the archived document may load only from the archive (no live web), in an opaque origin,
# and may submit no form (an archived form's action is the live site)
REPLAY_CSP = (f"sandbox {SANDBOX}; default-src 'self' data: blob: 'unsafe-inline' "
              "'unsafe-eval'; form-action 'none'")
# the rendered view: no script runs, neither archived nor ours; its links open the linked
# capture's view in the top window (web/rewrite.py), on a reader's click only
RENDERED = "dom_"
RENDERED_SANDBOX = "allow-popups allow-top-navigation-by-user-activation"
RENDERED_CSP = (f"sandbox {RENDERED_SANDBOX}; default-src 'self' data: blob: 'unsafe-inline'; "
                "script-src 'none'; form-action 'none'")
# requisites load the nearest capture at once; documents redirect to their exact time so
# that the frame's address names the capture it shows
REQUISITE_MODIFIERS = ("im_", "js_", "cs_")
_CHUNK = 64 * 1024
# a status the archive can answer with: a final HTTP status. An archived "abc", 0, 99999 or
# interim 1xx can head no response (pywb fails on them); the archive answers 200 and keeps
# the archived status line visible (X-Archive-Orig-Status, the banner, the headers tab)
_FINAL_STATUS = re.compile(r"[2-5][0-9][0-9]")
# RFC 7230: a header name is a token; what we pass on of a value is visible ASCII, spaces
# and tabs (no CR, LF or other controls, no bytes a WSGI server cannot send as Latin-1)
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_FIELD_VALUE = re.compile(r"[\t\x20-\x7e]*")


@dataclass(frozen=True)
class Archived:
    """A capture's HTTP head and decoded body, read from the record holding its payload."""

    capture: Capture
    status: int  # what the archive answers with (200 for an archived status that is none)
    status_line: str  # as archived, less the protocol: "200 OK", "abc Strange"
    headers: list[tuple[str, str]]
    body: bytes
    cut: bool = False  # the body inflated past the limit: only its beginning is kept

    @property
    def stated_status(self) -> str:
        """The status code as archived (which may be no HTTP status: "abc", "0")."""
        return self.status_line.partition(" ")[0]

    @property
    def content_type(self) -> str:
        # a type no response can carry (controls, non-ASCII) is no type
        for stated in (self.header("Content-Type"), self.capture.mime):
            if stated and _FIELD_VALUE.fullmatch(stated):
                return stated
        return "application/octet-stream"

    @property
    def mime(self) -> str:
        return media_type(self.content_type)

    @property
    def charset(self) -> str | None:
        return charset_of(self.content_type)

    def header(self, wanted: str) -> str | None:
        return next((v for k, v in self.headers if k.lower() == wanted.lower()), None)

    @property
    def redirect_target(self) -> str | None:
        """Where an archived redirect points (absolute), if it is one to a URL."""
        location = self.header("Location")
        if 300 <= self.status < 400 and location:
            return absolute_url(self.capture.url, location)
        return None


@dataclass(frozen=True)
class OtherTime:
    """A requisite of a page that the archive shows from a capture far in time from the page."""

    capture: Capture
    seconds: int  # the requisite's capture time minus the page's

    @property
    def name(self) -> str:
        return self.capture.url.rstrip("/").rsplit("/", 1)[-1] or self.capture.url

    @property
    def distance(self) -> str:
        """How far apart, in words ("3 h 20 min later")."""
        left = abs(self.seconds)
        days, left = divmod(left, 86400)
        hours, left = divmod(left, 3600)
        minutes, seconds = divmod(left, 60)
        parts = [f"{n} {unit}" for n, unit in ((days, "d"), (hours, "h"), (minutes, "min"))
                 if n][:2] or [f"{seconds} s"]
        return " ".join(parts) + (" later" if self.seconds > 0 else " earlier")


def load(capture: Capture) -> Archived:
    """Read a capture's payload from its WARC record (a revisit's from the original)."""
    if not capture.has_payload:
        raise CaptureNotFound(f"the payload of {capture.url} at {capture.timestamp} is not in "
                              "the collection (a revisit whose original is missing)")
    return _read(capture, capture.payload_file, capture.payload_offset, capture.payload_length)


def load_rendered(capture: Capture) -> Archived:
    """Read a browser capture's rendered DOM (the urn:dom: resource the catalog ties to it):
    as served by a browser, 200 and text/html; charset=utf-8."""
    if not capture.rendered:
        raise CaptureNotFound(f"{capture.url} at {capture.timestamp} was not rendered by a "
                              "browser")
    return _read(capture, capture.dom_file, capture.dom_offset, capture.dom_length)


def _read(capture: Capture, file: str, offset: int, length: int) -> Archived:
    path = collection().inside(file)
    config = network_config()
    limit = config.limits.max_response_bytes if config else DEFAULT_LIMIT
    try:
        payload = read_content(path, offset, length, limit=limit)
    except DamagedRecord as exc:
        abort(502, f"the archived record is damaged: {exc}")
    head = payload.head
    status_line = head.statusline.strip() or str(capture.status or 200)
    stated = status_line.partition(" ")[0]
    status = int(stated) if _FINAL_STATUS.fullmatch(stated) else 200
    return Archived(capture, status, status_line, list(head.headers), payload.body,
                    payload.cut)


def replay(capture: Capture, modifier: str, *, asked: str | None = None) -> Response:
    """The archived document of `capture`, as the `modifier` (pywb's: mp_ im_ js_ cs_ if_ id_;
    and ours, dom_: a browser capture's rendered DOM, else the page as served, scripts off)
    asks: HTML and CSS rewritten into the archive except for id_ (the payload as captured).
    `asked` is the 14-digit time the request named, if it was not the capture's own: what a
    stylesheet loads is then looked up nearest to that time (the page's), too."""
    rendered = modifier == RENDERED
    archived = load_rendered(capture) if rendered and capture.rendered else load(capture)
    exact = asked is None or asked == capture.timestamp
    target = archived.redirect_target
    if target is not None:
        answer = redirect(archive_path(capture.timestamp, target, modifier), 302)
        answer.headers.update(_replay_headers(capture, exact, modifier))
        return answer
    body, content_type = archived.body, archived.content_type
    if modifier != "id_":
        if archived.mime in HTML_TYPES and modifier in ("mp_", "if_", RENDERED):
            # decoded as the indexer decoded it, a <meta> label included
            text = decode(body, archived.charset, html=True)
            # only the page the capture view frames talks to it; frames within it do not
            body = rewrite_html(text, capture.url, capture.timestamp,
                                link_modifier=modifier,
                                frame_script=modifier == "mp_" and "/static/replay-frame.js",
                                noscript=not (rendered and capture.rendered),
                                links_to_top=rendered)
            content_type = "text/html; charset=utf-8"
        elif archived.mime == "text/css":
            body = rewrite_css(decode(body, archived.charset), capture.url,
                               asked or capture.timestamp).encode("utf-8")
            content_type = "text/css; charset=utf-8"
    answer = Response(body, status=archived.status, content_type=content_type)
    answer.headers.update(_replay_headers(capture, exact, modifier))
    if archived.cut:
        answer.headers["X-Archive-Truncated"] = f"inflated past {len(archived.body)} bytes"
    for name, value in _original_headers(archived):
        answer.headers.add(name, value)
    return answer


def record_download(capture: Capture) -> Response:
    """The capture's WARC record, byte for byte as stored (gzip member and all)."""
    path = collection().inside(capture.warc_file)

    def chunks() -> Iterator[bytes]:
        with open(path, "rb") as stream:
            stream.seek(capture.offset)
            left = capture.length
            while left > 0:
                data = stream.read(min(_CHUNK, left))
                if not data:
                    break
                left -= len(data)
                yield data

    return Response(chunks(), content_type="application/warc",
                    headers={"Content-Disposition":
                             f'attachment; filename="{record_name(capture)}"',
                             "Content-Length": str(capture.length)})


def record_name(capture: Capture) -> str:
    """The file name a capture's WARC record downloads as (.warc.gz if stored gzipped)."""
    with open(collection().inside(capture.warc_file), "rb") as fh:
        fh.seek(capture.offset)
        gzipped = fh.read(2) == b"\x1f\x8b"
    return f"{capture.timestamp}-{capture.id}.warc" + (".gz" if gzipped else "")


def requisites_from_other_times(archived: Archived, skew_seconds: float) -> list[OtherTime]:
    """The page's requisites (stylesheets, scripts, images, icons) whose nearest capture, the
    one the archive shows with the page, was made more than `skew_seconds` from the page."""
    capture = archived.capture
    doc = parse_html(decode(archived.body, archived.charset, html=True))
    if doc is None:
        return []
    page_time = timestamp_time(capture.timestamp)
    others = []
    for url in requisite_links(doc, capture.url):
        nearest = catalog().nearest(url, capture.timestamp)
        if nearest is None:
            continue
        seconds = int((timestamp_time(nearest.timestamp) - page_time).total_seconds())
        if abs(seconds) > skew_seconds:
            others.append(OtherTime(nearest, seconds))
    return others


def memento_headers(capture: Capture) -> dict[str, str]:
    """RFC 7089 headers of a memento: its datetime and links to the original, the TimeGate,
    the TimeMap and itself."""
    host = request.host_url.rstrip("/")
    when = http_date(capture.timestamp)
    return {
        "Memento-Datetime": when,
        "Link": ", ".join([
            link_value(capture.url, {"rel": "original"}),
            link_value(f"{host}/timegate/{capture.url}", {"rel": "timegate"}),
            link_value(f"{host}/timemap/link/{capture.url}",
                       {"rel": "timemap", "type": "application/link-format"}),
            link_value(f"{host}{archive_path(capture.timestamp, capture.url)}",
                       {"rel": "memento", "datetime": when})]),
    }


def http_date(timestamp: str) -> str:
    """A 14-digit timestamp as an RFC 1123 date (`Wed, 25 Nov 2026 08:41:54 GMT`)."""
    return format_datetime(timestamp_time(timestamp), usegmt=True)


def _replay_headers(capture: Capture, exact: bool, modifier: str) -> dict[str, str]:
    headers = {
        "Content-Security-Policy": RENDERED_CSP if modifier == RENDERED else REPLAY_CSP,
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        # a capture never changes; which capture is nearest may, when WARCs are added
        "Cache-Control": "max-age=86400" if exact else "max-age=300",
        **memento_headers(capture),
    }
    if modifier in REQUISITE_MODIFIERS:
        # web fonts and module scripts load with CORS, and the sandboxed page's origin is
        # opaque ("null"): without this the archive would refuse its own fonts to it. Pages
        # (mp_, if_, id_) never get it: other sites' scripts may not read the archive.
        headers["Access-Control-Allow-Origin"] = "*"
    return headers


def _original_headers(archived: Archived) -> Iterator[tuple[str, str]]:
    """The archived response's headers as pywb passes them on: renamed, so that none of them
    (cookies, caching, security policies) acts on the archive; an archived status line that is
    no HTTP status goes on as X-Archive-Orig-Status. A header no HTTP message may carry (a
    name that is no token, a value with controls or non-ASCII) is shown in the headers tab
    only."""
    replaced = str(archived.status) != archived.stated_status
    stated = [("Status", archived.status_line)] if replaced else []
    for name, value in stated + archived.headers:
        name = f"X-Archive-Orig-{name}"
        if _TOKEN.fullmatch(name) and _FIELD_VALUE.fullmatch(value):
            yield name, value
