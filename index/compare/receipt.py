"""A comparison's receipt: what is needed to re-run it as evidence (the two WARC records, the
command, the options and noise rules) and the permanent URL that cites it."""

from __future__ import annotations

import shlex
from typing import Any

from index import __version__
from index.catalog import Capture
from index.compare.permalinks import diff_url
from index.timestamps import iso_date


def receipt(a: Capture, b: Capture, *, rules: tuple[str, ...], text: str | None, full: bool,
            ignore_case: bool, ignore_whitespace: bool) -> dict[str, Any]:
    """The receipt of the comparison of `a` with `b`: `text` the text asked for ("full",
    "main", or None to let the comparison choose), `full` whether the full text was compared."""
    command = ["palimpsest", "diff", b.url, "--from", a.timestamp, "--to", b.timestamp]
    command += ["--full"] if full else []
    command += ["--ignore-case"] if ignore_case else []
    command += ["--count-breaks"] if not ignore_whitespace else []
    return {
        "software": f"Palimpsest/{__version__}", "version": __version__,
        "permalink": diff_url(a.timestamp, b.timestamp, b.url, text, ignore_case,
                              not ignore_whitespace),
        "command": shlex.join(command),
        "from": _record(a), "to": _record(b),
        "rules": list(rules), "text": "full" if full else "main",
        "ignore_case": ignore_case, "ignore_whitespace": ignore_whitespace,
    }


def _record(capture: Capture) -> dict[str, Any]:
    return {"url": capture.url, "record_id": capture.record_id,
            "record_type": capture.record_type, "warc_file": capture.warc_file,
            "offset": capture.offset, "length": capture.length,
            "payload_file": capture.payload_file, "payload_offset": capture.payload_offset,
            "digest": capture.digest, "timestamp": capture.timestamp,
            "warc_date": iso_date(capture.warc_date, capture.timestamp)}
