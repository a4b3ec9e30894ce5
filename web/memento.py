"""Memento (RFC 7089): the TimeMap of a URL in application/link-format, and its TimeGate,
which answers `Accept-Datetime` with a redirect to the nearest capture."""

from __future__ import annotations

from datetime import UTC
from email.utils import parsedate_to_datetime
from typing import Any

from flask import Blueprint, Response, redirect, request

from index.errors import CaptureNotFound, QueryError
from index.timestamps import timestamp_of
from web.captures import target_url
from web.replay import http_date
from web.rewrite import archive_path, link_value
from web.state import catalog

bp = Blueprint("memento", __name__)
LINK_FORMAT = "application/link-format"


@bp.route("/timemap/link/<path:url>")
def timemap(url: str) -> Response:
    """The TimeMap of `url`: original, TimeGate, itself, then every memento, oldest first."""
    url = target_url(url)
    captures = catalog().captures(url)
    if not captures:
        raise CaptureNotFound(f"no capture of {url}")
    host = request.host_url.rstrip("/")
    links = [link_value(url, {"rel": "original"}),
             link_value(f"{host}/timegate/{url}", {"rel": "timegate"}),
             link_value(f"{host}/timemap/link/{url}", {
                 "rel": "self", "type": LINK_FORMAT, "from": http_date(captures[0].timestamp),
                 "until": http_date(captures[-1].timestamp)})]
    for n, capture in enumerate(captures):
        rel = "memento"
        if n == 0:
            rel = "first memento"
        if n == len(captures) - 1:
            rel = "last memento" if n else "first last memento"
        links.append(link_value(f"{host}{archive_path(capture.timestamp, capture.url)}",
                                {"rel": rel, "datetime": http_date(capture.timestamp)}))
    return Response(",\n".join(links) + "\n", content_type=LINK_FORMAT)


@bp.route("/timegate/<path:url>")
def timegate(url: str) -> Any:
    """A 302 to the memento nearest `Accept-Datetime` (the latest without one)."""
    url = target_url(url)
    wanted = request.headers.get("Accept-Datetime")
    if wanted:
        try:
            moment = parsedate_to_datetime(wanted).astimezone(UTC)
        except (TypeError, ValueError):
            raise QueryError(f"Accept-Datetime {wanted!r} is not an RFC 1123 date") from None
        capture = catalog().nearest(url, timestamp_of(moment))
    else:
        found = catalog().captures(url)
        capture = found[-1] if found else None
    if capture is None:
        raise CaptureNotFound(f"no capture of {url}")
    response = redirect(archive_path(capture.timestamp, capture.url), 302)
    response.headers["Vary"] = "accept-datetime"
    host = request.host_url.rstrip("/")
    response.headers["Link"] = ", ".join([
        link_value(url, {"rel": "original"}),
        link_value(f"{host}/timemap/link/{url}", {"rel": "timemap", "type": LINK_FORMAT}),
        link_value(f"{host}{archive_path(capture.timestamp, capture.url)}",
                   {"rel": "memento", "datetime": http_date(capture.timestamp)})])
    return response
