"""A selection's records copied whole into new WARC files (archive/ of an export).

Each catalogued record is copied as its bytes at (offset, length) in its WARC: our files and
most tools' hold one gzip member a record, so the copy is the record exactly as captured
(a record of an uncompressed .warc is gzipped on the way). The records written with it and
not catalogued (its request, its metadata: the ones whose WARC-Concurrent-To names it, or
that it names) are found between it and its catalogued neighbours and copied with it. An
ARC file's records cannot go into a WARC file: an ARC file with a selected record is
exported whole.
"""

from __future__ import annotations

import socket
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from io import BytesIO
from typing import BinaryIO, Protocol

from warcio.archiveiterator import ArchiveIterator
from warcio.warcwriter import WARCWriter

from index import __version__
from index.catalog_export import ExportRecord
from index.cdxj import cdxj_line
from index.collection import Collection
from index.warc_names import name_part

# a new WARC file is closed past this size (well below zip64's 4 GB: every reader takes it)
MAX_WARC_BYTES = 1 << 30
# at most this many uncatalogued records are read on each side of a record
_GAP_RECORDS = 16
_CHUNK = 1 << 20


@dataclass(frozen=True)
class GapRecord:
    offset: int
    length: int


class OutFile(Protocol):
    """One open member of the zip being written: `write` bytes, `tell` how many so far."""

    def write(self, data: bytes) -> object: ...
    def tell(self) -> int: ...


@dataclass
class CopyPlan:
    """What a selection's copy wrote: the ARC files it left to be copied whole."""

    whole_files: list[str] = field(default_factory=list)
    records: int = 0
    warc_files: int = 0


class SelectionCopier:
    """Copies `records` (in file and offset order) into new WARC files opened through
    `open_warc(name, big)` (`big`: it may pass 4 GB), adding each catalogued record's CDXJ
    line (`add_line`) with its new file name and offset."""

    def __init__(self, collection: Collection, open_warc: Callable[[str, bool], OutFile],
                 close_warc: Callable[[], None], add_line: Callable[[str], None], *,
                 max_bytes: int = MAX_WARC_BYTES) -> None:
        self.collection = collection
        self._open_warc, self._close_warc, self._add_line = open_warc, close_warc, add_line
        self.max_bytes = max_bytes
        self._out: OutFile | None = None
        self._name = ""
        self._source: tuple[str, BinaryIO] | None = None
        self._written_to = 0  # in the current source file: where its copied records end
        self._stamp = datetime.now(UTC)
        self.plan = CopyPlan()

    def copy(self, records: Iterator[ExportRecord]) -> CopyPlan:
        try:
            for record in records:
                if record.warc_file.endswith((".arc", ".arc.gz")):
                    if record.warc_file not in self.plan.whole_files:
                        self.plan.whole_files.append(record.warc_file)
                    continue
                self._copy_one(record)
        finally:
            if self._source:
                self._source[1].close()
            if self._out is not None:
                self._close_warc()
        return self.plan

    def _copy_one(self, record: ExportRecord) -> None:
        handle = self._handle(record.warc_file)
        before, after = self._neighbours(handle, record)
        group = record.length + sum(g.length for g in before + after)
        if self._out is not None and self._out.tell() + group > self.max_bytes:
            self._rotate()  # a file never passes max_bytes by more than one group
        if self._out is None:
            self._start(big=group > self.max_bytes)
        for gap in before:
            self._copy_bytes(handle, record.warc_file, gap.offset, gap.length)
        out = self._current_out()
        offset = out.tell()
        self._copy_bytes(handle, record.warc_file, record.offset, record.length)
        self._add_line(cdxj_line(*record.cdx[:-3], out.tell() - offset, offset, self._name))
        self.plan.records += 1
        for gap in after:
            self._copy_bytes(handle, record.warc_file, gap.offset, gap.length)
        if out.tell() >= self.max_bytes:
            self._rotate()

    def _rotate(self) -> None:
        self._close_warc()
        self._out = None

    def _neighbours(self, handle: BinaryIO, record: ExportRecord
                    ) -> tuple[list[GapRecord], list[GapRecord]]:
        """The uncatalogued records written with `record`, before and after it."""
        start = max(record.gap_before, self._written_to)
        before = [g for g, rid, conc in _records_between(handle, start, record.offset)
                  if _belongs(record, rid, conc)]
        after = [g for g, rid, conc in _records_between(
            handle, record.offset + record.length, record.gap_after)
            if _belongs(record, rid, conc)]
        return before, after

    def _copy_bytes(self, handle: BinaryIO, warc_file: str, offset: int, length: int) -> None:
        out = self._current_out()
        handle.seek(offset)
        gzip = None if warc_file.endswith(".gz") else zlib.compressobj(6, zlib.DEFLATED, 31)
        left = length
        while left > 0:
            data = handle.read(min(_CHUNK, left))
            if not data:
                break
            left -= len(data)
            out.write(gzip.compress(data) if gzip else data)
        if gzip:
            out.write(gzip.flush())
        self._written_to = max(self._written_to, offset + length)

    def _handle(self, warc_file: str) -> BinaryIO:
        if self._source and self._source[0] == warc_file:
            return self._source[1]
        if self._source:
            self._source[1].close()
        handle = open(self.collection.inside(warc_file), "rb")  # noqa: SIM115 (closed on change)
        self._source, self._written_to = (warc_file, handle), 0
        return handle

    def _current_out(self) -> OutFile:
        assert self._out is not None
        return self._out

    def _start(self, *, big: bool) -> None:
        """A new WARC file; `big` when the record group going into it is past max_bytes,
        so that its zip entry is opened with room for a size past 4 GB."""
        self._name = new_warc_name(self._stamp, self.plan.warc_files)
        self._out = self._open_warc(self._name, big)
        self._out.write(warcinfo_member(self._name))
        self.plan.warc_files += 1


def new_warc_name(stamp: datetime, serial: int) -> str:
    """An exported WARC's name, of IIPC's shape and within the WACZ name set."""
    moment = stamp.strftime("%Y%m%d%H%M%S") + f"{stamp.microsecond // 1000:03d}"
    return f"palimpsest-export-{moment}-{serial:05d}-{name_part(socket.gethostname())}.warc.gz"


def warcinfo_member(name: str) -> bytes:
    """The warcinfo record opening an exported WARC file, as one gzip member."""
    buffer = BytesIO()
    writer = WARCWriter(buffer, gzip=True, warc_version="WARC/1.1")
    body = (f"software: palimpsest {__version__}\r\nformat: WARC File Format 1.1\r\n"
            "description: records exported whole from a Palimpsest collection\r\n").encode()
    writer.write_record(writer.create_warc_record(
        "", "warcinfo", payload=BytesIO(body), length=len(body),
        warc_content_type="application/warc-fields",
        warc_headers_dict={"WARC-Filename": name}))
    return buffer.getvalue()


def _belongs(record: ExportRecord, record_id: str | None, concurrent: list[str]) -> bool:
    """Whether an uncatalogued record was written with `record`: it names it as concurrent,
    or `record` names it."""
    return bool(record.record_id and record.record_id in concurrent) or bool(
        record_id and record.concurrent_to and record_id == record.concurrent_to)


def _records_between(handle: BinaryIO, start: int, end: int | None
                     ) -> Iterator[tuple[GapRecord, str | None, list[str]]]:
    """The records from `start` up to `end` (None: the end of the file), at most
    _GAP_RECORDS of them: where each is, its record id and what it names as concurrent."""
    if end is not None and start >= end:
        return
    handle.seek(start)
    records = ArchiveIterator(handle, check_digests=False)
    for n, rec in enumerate(records):
        offset = records.get_record_offset()
        if n >= _GAP_RECORDS or (end is not None and offset >= end):
            return
        headers = rec.rec_headers
        record_id = headers.get_header("WARC-Record-ID")
        concurrent = [v for k, v in headers.headers if k.lower() == "warc-concurrent-to"]
        records.read_to_end(rec)
        if rec.rec_type != "warcinfo":
            yield GapRecord(offset, records.get_record_length()), record_id, concurrent
