"""The archive's 14-digit UTC timestamps (`YYYYMMDDhhmmss`, as in Wayback URLs and CDX) and
their ISO 8601 form in JSON: parsing, padding a shorter one, and converting between them.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from warcio.timeutils import iso_date_to_timestamp

from index.errors import UsageError

TIMESTAMP_FORMAT = "%Y%m%d%H%M%S"
_ISO_UTC = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z")
_TIMESTAMP = re.compile(r"\d{4,14}")


def timestamp_time(timestamp: str) -> datetime:
    """The UTC moment a 14-digit timestamp names; ValueError if it names none."""
    return datetime.strptime(timestamp, TIMESTAMP_FORMAT).replace(tzinfo=UTC)


def timestamp_of(moment: datetime) -> str:
    """The 14-digit timestamp of `moment` (taken as UTC), to the second."""
    return moment.strftime(TIMESTAMP_FORMAT)


def warc_date_timestamp(warc_date: str | None) -> str | None:
    """The 14-digit timestamp of a WARC-Date; None for no date or one that is not a date."""
    try:
        return iso_date_to_timestamp(warc_date) if warc_date else None
    except (ValueError, TypeError, AttributeError):
        return None


def precise_timestamp(timestamp: str, warc_date: str | None) -> str:
    """A 14-digit timestamp with the milliseconds of its WARC-Date after it (17 digits,
    `000` when the date has no fraction or is not the one the timestamp was taken from).

    The form wabac.js (ReplayWeb.page) reads a CDXJ timestamp in to the millisecond. It
    looks up a revisit's original at the WARC-Refers-To-Date, to the millisecond, as the
    first capture of the URL at or after it: at 14 digits the original sorts before that
    moment, and the URL's next capture, a newer payload, is shown in its place."""
    millis = "000"
    if warc_date and _ISO_UTC.fullmatch(warc_date) and warc_date_timestamp(warc_date) == timestamp:
        fraction = warc_date[20:-1] if warc_date[19] == "." else ""
        millis = (fraction + "000")[:3]
    return timestamp + millis


def iso_date(warc_date: str, timestamp: str) -> str:
    """WARC-Date as ISO 8601 UTC (`2025-11-25T06:17:29Z`, fraction kept if written)."""
    if _ISO_UTC.fullmatch(warc_date):
        return warc_date
    t = timestamp
    return f"{t[0:4]}-{t[4:6]}-{t[6:8]}T{t[8:10]}:{t[10:12]}:{t[12:14]}Z"


def pad_timestamp(value: str, *, up: bool = False) -> str:
    """A 4 to 14 digit timestamp padded to 14 digits: to the start of the period it names,
    or with `up` to its end (`2024` is 20240101000000, or 20241231235959)."""
    if not _TIMESTAMP.fullmatch(value):
        raise UsageError(f"{value!r} is not a timestamp (YYYYMMDDhhmmss, 4 to 14 digits)")
    if up:
        return value + "99991231235959"[len(value):]
    padded = value + "00000101000000"[len(value):]
    try:
        datetime.strptime(padded, TIMESTAMP_FORMAT)
    except ValueError:
        raise UsageError(f"{value!r} is not a valid date and time") from None
    return padded
