"""The CDX server API as pywb serves it: `/cdx?url=&matchType=&from=&to=&limit=&sort=
&closest=&filter=&fl=&output=`.

One line per capture, by SURT key then time: CDXJ (`urlkey timestamp {json}`, the default),
`output=json` one JSON object per line, `output=text` space-separated fields, `output=link`
Memento link-format lines. Fields are strings, absent ones left out, as in pywb's answers.
`/cdx` with no query at all is a page that explains the API, with examples that work on
this collection.
"""

from __future__ import annotations

import itertools
import json
import math
import time
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import urlsplit

import regex
from flask import Blueprint, Response, render_template, request

from index.catalog import Capture
from index.errors import QueryError
from index.timestamps import pad_timestamp, timestamp_time
from web.replay import http_date
from web.rewrite import link_value
from web.state import catalog

bp = Blueprint("cdx", __name__)
# pywb's other names for fields (CDXObject.CDX_ALT_FIELDS)
ALIASES = {"u": "url", "original": "url", "statuscode": "status", "s": "status",
           "mimetype": "mime", "m": "mime", "l": "length", "o": "offset", "d": "digest",
           "t": "timestamp", "k": "urlkey", "f": "filename"}
FIELDS = ("urlkey", "timestamp", "url", "mime", "status", "digest", "length", "offset",
          "filename")
OUTPUTS = {"cdxj": "text/x-cdxj", "json": "text/x-ndjson", "text": "text/plain",
           "link": "application/link-format"}
# a regular expression can take exponential time to fail ("(.{1,3}){1,40}\s"): one query's
# filters get this long to match, in all, and so long a pattern at most. Compiling takes the
# product of nested counts ("((a{100}){100}){100}" a second, one more level for ever), which
# no timeout bounds: the counts of a pattern may multiply to FILTER_REPEATS at most
FILTER_SECONDS = 2.0
FILTER_LENGTH = 1000
FILTER_REPEATS = 10_000
_COUNT = regex.compile(r"\{(\d*)(?:,(\d*))?\}")
EXAMPLE_SEARCH = 1000  # captures looked through for a page to give as the help's example


def cdx_fields(capture: Capture) -> dict[str, str]:
    """The fields pywb's CDX server gives for a capture, as strings like pywb's."""
    fields = {"urlkey": capture.surt, "timestamp": capture.timestamp, "url": capture.url}
    if capture.record_type == "revisit":
        # like pywb's index: a revisit is warc/revisit, with no status of its own
        fields["mime"] = "warc/revisit"
    else:
        if capture.mime:
            fields["mime"] = capture.mime
        if capture.status:
            fields["status"] = str(capture.status)
    if capture.digest:
        fields["digest"] = capture.digest.removeprefix("sha1:")
    fields.update(length=str(capture.length), offset=str(capture.offset),
                  filename=capture.warc_file.rsplit("/", 1)[-1])
    return fields


@bp.route("/cdx")
def cdx() -> Response:
    """The captures the query selects, one line each, as pywb answers the same query; with
    no query at all, the page that explains the API."""
    args = request.args
    if not request.query_string:
        return Response(render_template("cdx/help.html", examples=examples(),
                                        fields=FIELDS, aliases=ALIASES, outputs=OUTPUTS))
    url = args.get("url", "").strip()
    if not url:
        raise QueryError("the CDX API needs url= (/cdx alone explains how to ask)")
    output = args.get("output") or "cdxj"
    if output not in OUTPUTS:
        raise QueryError(f"output must be one of {', '.join(OUTPUTS)}")
    limit = _whole(args.get("limit"), "limit")
    wanted = args.get("fields") or args.get("fl") or ""
    fl = [ALIASES.get(f, f) for f in wanted.split(",") if f] or None
    deadline = time.monotonic() + FILTER_SECONDS
    tests = [_filter(f, deadline) for f in args.getlist("filter")]
    captures = catalog().query(url, args.get("matchType") or None,
                               from_ts=args.get("from") or None, to_ts=args.get("to") or None)
    rows = (fields for fields in map(cdx_fields, captures) if all(t(fields) for t in tests))
    reverse = args.get("reverse", "").lower() in ("1", "true")
    rows = _order(rows, "reverse" if reverse else args.get("sort"), args.get("closest"), limit)
    lines = [_line(fields, output, fl) for fields in rows]
    separator = ",\n" if output == "link" else "\n"
    body = separator.join(lines) + ("\n" if lines else "")
    return Response(body, content_type=OUTPUTS[output])


def examples() -> list[tuple[str, list[tuple[str, str]]]]:
    """Queries that answer with lines on this collection, each with what it asks: about
    its first successful HTML capture (none if it has none)."""
    found = itertools.islice(catalog().all_captures(), EXAMPLE_SEARCH)
    page = next((c for c in found if c.status == 200 and c.mime == "text/html"), None)
    if page is None:
        return []
    host = urlsplit(page.url).netloc
    latest = catalog().captures(page.url)[-1].timestamp
    return [
        ("Every capture of one page, oldest first (CDXJ)", [("url", page.url)]),
        ("The same, one JSON object a line", [("url", page.url), ("output", "json")]),
        ("Every capture of every page under a host (a trailing * is matchType=prefix)",
         [("url", f"{host}/*")]),
        ("The same with matchType, as chosen fields in plain text",
         [("url", host), ("matchType", "host"), ("fl", "timestamp,status,mime,url"),
          ("output", "text")]),
        ("The capture nearest a time", [("url", page.url), ("closest", latest),
                                        ("sort", "closest"), ("limit", "1")]),
        ("The latest capture", [("url", page.url), ("sort", "reverse"), ("limit", "1")]),
        (f"Captures of the host in {latest[:4]}, revisits left out",
         [("url", f"{host}/*"), ("from", latest[:4]), ("to", latest[:4]),
          ("filter", "!mime:warc/revisit"), ("limit", "20")]),
        ("Pages whose status is exactly 200 (=), by regular expression on the URL (~)",
         [("url", f"{host}/*"), ("filter", "=status:200"), ("filter", "~url:.*/$"),
          ("fl", "url,timestamp"), ("output", "json")]),
        ("Memento links (application/link-format)", [("url", page.url), ("output", "link")]),
    ]


def _order(rows: Iterable[dict[str, str]], sort: str | None, closest: str | None,
           limit: int | None) -> list[dict[str, str]]:
    """pywb's orders: `closest=TS` (with or without sort=closest) nearest first, the earlier
    of two equally near first; `sort=reverse` latest first; each cut to `limit`."""
    if sort not in (None, "", "closest", "reverse"):
        raise QueryError("sort must be reverse or closest")
    if closest:
        target = _seconds(_padded(closest))
        ordered = sorted(rows, key=lambda f: abs(_seconds(f["timestamp"]) - target))
    elif sort == "closest":
        raise QueryError("sort=closest needs closest=TIMESTAMP")
    elif sort == "reverse":
        ordered = list(rows)[::-1]
    else:
        ordered = list(rows)
    return ordered[:limit] if limit is not None else ordered


def _line(fields: dict[str, str], output: str, fl: list[str] | None) -> str:
    """One answer line; `fl` chooses the fields and their order (pywb writes "-" for a
    chosen field that a capture lacks only in text output, and otherwise leaves it out)."""
    if output == "link":
        return link_value(fields["url"], {"rel": "memento",
                                          "datetime": http_date(fields["timestamp"])})
    if output == "text":
        return " ".join(fields.get(k, "-") for k in fl) if fl else " ".join(fields.values())
    chosen = {k: fields[k] for k in fl if k in fields} if fl else fields
    if output == "json":
        return json.dumps(chosen)
    rest = {k: v for k, v in chosen.items() if k not in ("urlkey", "timestamp")}
    return f"{fields['urlkey']} {fields['timestamp']} {json.dumps(rest)}"


def _filter(spec: str, deadline: float) -> Callable[[dict[str, str]], bool]:
    """pywb's filters: `[!][=|~]field:value`: `field` contains `value`; with `=` equals it;
    with `~` the regular expression matches its beginning; `!` negates. Without `field:`,
    the test applies to the whole line. A regular expression still matching at `deadline`
    (time.monotonic) is a QueryError."""
    if len(spec) > FILTER_LENGTH:
        raise QueryError(f"a filter may have at most {FILTER_LENGTH} characters")
    negate = spec.startswith("!")
    spec = spec.removeprefix("!")
    how = spec[:1] if spec[:1] in ("=", "~") else ""
    spec = spec[len(how):]
    field, sep, value = spec.partition(":")
    if not sep:
        field, value = "", spec
    field = ALIASES.get(field, field)
    if how == "~":
        repeats = math.prod(max(int(n or 1), 1) for count in _COUNT.findall(value)
                            for n in count)
        if repeats > FILTER_REPEATS:
            raise QueryError(f"filter {spec!r}: the counted repetitions ({{n}}) of a regular "
                             f"expression may multiply to {FILTER_REPEATS:,} at most")
        try:
            pattern = regex.compile(value)
        except regex.error as exc:
            raise QueryError(f"filter {spec!r}: bad regular expression ({exc})") from None

        def compare(found: str) -> bool:
            try:
                return pattern.match(found, timeout=max(deadline - time.monotonic(), 0)) \
                    is not None
            except TimeoutError:
                raise QueryError(f"filter {spec!r}: the regular expression took more than "
                                 f"{FILTER_SECONDS:g} s to match; simplify it") from None
    elif how == "=":
        def compare(found: str) -> bool:
            return found == value
    else:
        def compare(found: str) -> bool:
            return value in found

    def test(fields: dict[str, Any]) -> bool:
        found = fields.get(field, "") if field else " ".join(fields.values())
        return compare(found) != negate
    return test


def _whole(value: str | None, name: str) -> int | None:
    if not value:
        return None
    if not value.isdigit():
        raise QueryError(f"{name} must be a positive whole number")
    return int(value)


def _padded(timestamp: str) -> str:
    if not timestamp.isdigit():
        raise QueryError(f"{timestamp!r} is not a timestamp (4 to 14 digits)")
    return pad_timestamp(timestamp)


def _seconds(timestamp: str) -> int:
    return int(timestamp_time(timestamp).timestamp())
