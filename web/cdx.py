"""The CDX server API as pywb serves it: `/cdx?url=&matchType=&from=&to=&limit=&output=json
&filter=`. One line per capture, by SURT key then time: CDXJ (`urlkey timestamp {json}`), or
with output=json one JSON object per line."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from flask import Blueprint, Response, request

from index.catalog import Capture
from index.errors import QueryError
from web import catalog

bp = Blueprint("cdx", __name__)
_FILTER = re.compile(r"^(!)?([=~])?([a-z_]+):(.*)$")


def cdx_fields(capture: Capture) -> dict[str, str]:
    """The fields pywb's CDX server gives for a capture, as strings like pywb's."""
    revisit = capture.record_type == "revisit"
    # like pywb, a revisit shows as warc/revisit with no status of its own
    fields = {"urlkey": capture.surt, "timestamp": capture.timestamp, "url": capture.url,
              "mime": "warc/revisit" if revisit else (capture.mime or "unk"),
              "status": str(capture.status) if capture.status and not revisit else "-",
              "digest": (capture.digest or "-").removeprefix("sha1:"),
              "length": str(capture.length), "offset": str(capture.offset),
              "filename": capture.warc_file.rsplit("/", 1)[-1]}
    return fields


@bp.route("/cdx")
def cdx() -> Response:
    args = request.args
    url = args.get("url", "").strip()
    if not url:
        raise QueryError("the CDX API needs url=")
    try:
        limit = int(args["limit"]) if args.get("limit") else None
    except ValueError:
        raise QueryError("limit must be a whole number") from None
    captures = catalog().query(url, args.get("matchType") or None,
                               from_ts=args.get("from") or None, to_ts=args.get("to") or None)
    tests = [_filter(f) for f in args.getlist("filter")]
    lines = []
    for capture in captures:
        fields = cdx_fields(capture)
        if all(test(fields) for test in tests):
            if args.get("output") == "json":
                lines.append(json.dumps(fields))
            else:
                rest = {k: v for k, v in fields.items() if k not in ("urlkey", "timestamp")}
                lines.append(f"{fields['urlkey']} {fields['timestamp']} {json.dumps(rest)}")
            if limit is not None and len(lines) >= limit:
                break
    content_type = "text/x-ndjson" if args.get("output") == "json" else "text/x-cdxj"
    return Response("".join(line + "\n" for line in lines), content_type=content_type)


def _filter(spec: str) -> Callable[[dict[str, Any]], bool]:
    """pywb's filters: `field:regex`, `=field:exact`, `~field:contains`, `!` negates."""
    match = _FILTER.match(spec)
    if not match:
        raise QueryError(f"filter {spec!r}: expected [!][=|~]field:value")
    negate, how, field, value = match.groups()
    if how == "=":
        def test(fields: dict[str, Any]) -> bool:
            return fields.get(field, "") == value
    elif how == "~":
        def test(fields: dict[str, Any]) -> bool:
            return value in fields.get(field, "")
    else:
        try:
            pattern = re.compile(value)
        except re.error as exc:
            raise QueryError(f"filter {spec!r}: bad regular expression ({exc})") from None

        def test(fields: dict[str, Any]) -> bool:
            return pattern.match(fields.get(field, "")) is not None
    return (lambda fields: not test(fields)) if negate else test
