"""One WARC file read into the rows the catalog stores for it (runs in worker processes).

Each record cdxj-indexer would list becomes a `CaptureRow` (responses, revisits and
resources) or a `CdxOnlyRow` (metadata records); a record that cannot be listed (no
target URI, a WARC-Date that is no date) is reported as damage instead.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from index.catalog_records import CaptureRow, CdxOnlyRow
from index.config import NetworkConfig
from index.extract import media_type
from index.surt_key import surt_key
from index.timestamps import warc_date_timestamp
from index.warc_reader import Damage, Quirk, WarcReader, WarcRecord

_MIME_END = re.compile(r"[;\s]")  # where cdxj-indexer cuts a Content-Type
_CAPTURE_TYPES = ("response", "revisit", "resource")


@dataclass(frozen=True)
class FileJob:
    """One WARC file to catalogue, as it was on disk when the run began."""

    path: Path
    rel: str  # relative to the collection
    crawl: str
    size: int
    mtime_ns: int
    config: NetworkConfig | None


@dataclass
class FileRows:
    """What reading one WARC file gave."""

    job: FileJob
    records: int
    rows: list[CaptureRow]
    cdx_only: list[CdxOnlyRow]
    damage: list[Damage]
    quirks: list[Quirk]


def crawl_of(rel: str) -> str:
    """The crawl a WARC file belongs to: its crawl id, or `imported/<name>`."""
    parts = rel.split("/")
    if parts[0] == "crawls" and len(parts) > 2:
        return parts[1]
    if parts[0] == "imported" and len(parts) > 2:
        return f"imported/{parts[1]}"
    return parts[0]


def read_file(job: FileJob) -> FileRows:
    """Read one WARC file into catalog rows."""
    reader = WarcReader(job.path)
    rows: list[CaptureRow] = []
    cdx_only: list[CdxOnlyRow] = []
    damage: list[Damage] = []
    count = 0
    for record in reader:
        count += 1
        if not _listed(record):
            continue
        timestamp, problem = _timestamp(record)
        if problem:
            damage.append(Damage(str(job.path), record.offset, problem,
                                 record.offset + record.length))
        elif record.warc_type == "metadata":
            cdx_only.append(_cdx_only_row(record, timestamp, job))
        else:
            rows.append(_capture_row(record, timestamp, job))
    # the reader's damage goes first: it is what a reader of the file meets first
    return FileRows(job, count, rows, cdx_only, reader.damage + damage, reader.quirks)


def _listed(record: WarcRecord) -> bool:
    """Whether cdxj-indexer lists the record (its default record selection)."""
    if record.warc_type in _CAPTURE_TYPES or record.warc_type == "metadata":
        return not (record.warc_type in ("resource", "metadata")
                    and record.content_type == "application/warc-fields")
    return False


def _timestamp(record: WarcRecord) -> tuple[str, str | None]:
    """The record's 14-digit timestamp, and what keeps it from being listed (or None)."""
    if not record.target_uri:
        return "", "record has no WARC-Target-URI"
    timestamp = warc_date_timestamp(record.warc_date)
    if timestamp is None:
        return "", f"WARC-Date {record.warc_date!r} is not a date"
    return timestamp, None


def _capture_row(record: WarcRecord, timestamp: str, job: FileJob) -> CaptureRow:
    url = record.target_uri or ""
    kind = record.warc_type
    status = record.http_status
    own = kind != "revisit"
    site = None
    if job.config is not None:
        found = job.config.site_of(url)
        site = found.name if found else None
    return CaptureRow(
        url=url, surt=surt_key(url), timestamp=timestamp, warc_date=record.warc_date,
        record_type=kind, status=int(status) if status and status.isdigit() else None,
        mime=media_type(record.content_type if kind == "resource"
                        else record.http_content_type) or None,
        digest=record.payload_digest, length=record.length, offset=record.offset,
        warc_file=job.rel, payload_file=job.rel if own else None,
        payload_offset=record.offset if own else None,
        payload_length=record.length if own else None, crawl=job.crawl, site=site,
        record_id=record.record_id, refers_to=record.refers_to,
        refers_to_uri=record.refers_to_uri, refers_to_date=record.refers_to_date,
        cdx_mime=_cdx_mime(record), cdx_status=status, concurrent_to=record.concurrent_to)


def _cdx_only_row(record: WarcRecord, timestamp: str, job: FileJob) -> CdxOnlyRow:
    url = record.target_uri or ""
    return CdxOnlyRow(surt=surt_key(url), timestamp=timestamp, url=url,
                      cdx_mime=_cdx_mime(record), cdx_status=record.http_status,
                      digest=record.payload_digest, length=record.length,
                      offset=record.offset, warc_file=job.rel)


def _cdx_mime(record: WarcRecord) -> str | None:
    """The mime as cdxj-indexer writes it: cut at the first `;` or space, case kept."""
    if record.warc_type == "revisit":
        return "warc/revisit"
    value = record.http_content_type if record.warc_type == "response" else record.content_type
    return _MIME_END.split(value, maxsplit=1)[0].strip() if value else value
