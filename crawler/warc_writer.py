"""WARC 1.1 files as a crawl writes them: per-record gzip, IIPC-style names (lower case, within
`^[-a-z0-9._/]+$`), a warcinfo record opening each file, rotation at a size limit, and a
`.open` suffix until the file is closed.

Plain warcio, no Scrapy: the crawler's extension and middleware drive it. Record IDs and dates
come from injectable callables so that a test can compare bytes exactly.
"""

from __future__ import annotations

import ctypes
import os
import socket
import uuid
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from io import BytesIO
from pathlib import Path
from typing import BinaryIO

from warcio.recordloader import ArcWarcRecord
from warcio.warcwriter import WARCWriter

from index.warc_names import name_part

OPEN_SUFFIX = ".open"
WARC_VERSION = "WARC/1.1"


def new_record_id() -> str:
    return f"<urn:uuid:{uuid.uuid4()}>"


def warc_date(moment: datetime | None = None) -> str:
    """WARC 1.1 date: ISO 8601 UTC with microseconds, as warcio writes for 1.1."""
    moment = moment or datetime.now(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


# warcio compresses at level 9; level 6 writes files a few per cent larger for far less CPU
GZIP_LEVEL = 6
# a payload compressed already (a screenshot's PNG, an image, a gzipped body) deflates by 2%
# at most, for ~90 ms of CPU a 2 MB screenshot at any level: its member is stored instead
# (deflate's stored blocks: a gzip member like any other, 5 ms)
_COMPRESSED_TYPES = ("image/png", "image/jpeg", "image/webp", "image/gif", "image/avif",
                     "font/woff2", "application/zip", "application/gzip", "video/", "audio/")
_COMPRESSED_ENCODINGS = ("gzip", "br", "zstd", "deflate", "x-gzip")
# glibc's M_TRIM_THRESHOLD: free memory at the top of the heap kept, not given back, up to this
_HEAP_KEPT = 16 << 20


def keep_heap_for_compressors() -> None:
    """Let glibc keep freed heap memory up to _HEAP_KEPT instead of returning it to the OS
    past 128 KiB. Each gzip member takes a fresh compressor of ~256 KiB of zlib state,
    freed a moment later: by default the heap was shrunk and grown again for every record,
    page faults and all, which cost more than the compression itself (~200 against ~30 us a
    record). Process-wide and harmless elsewhere; nothing where the C library is not glibc."""
    try:
        ctypes.CDLL("libc.so.6").mallopt(-1, _HEAP_KEPT)  # -1: M_TRIM_THRESHOLD
    except (OSError, AttributeError):
        pass


@dataclass
class WarcFile:
    path: Path  # the final name; while open the file on disk carries OPEN_SUFFIX
    serial: int
    handle: BinaryIO

    @property
    def open_path(self) -> Path:
        return self.path.with_name(self.path.name + OPEN_SUFFIX)

    @property
    def size(self) -> int:
        return self.handle.tell()


class RotatingWarcWriter:
    """Writes records into `directory`, starting a new file once one passes `max_bytes`.

    Each file begins with a warcinfo record made from `info` (ordered name/value pairs). A
    record group (e.g. request, response and metadata of one fetch) is written whole into one
    file and flushed to the OS, so a killed process leaves every complete record readable.
    """

    def __init__(
        self,
        directory: Path,
        *,
        prefix: str,
        info: list[tuple[str, str]],
        max_bytes: int,
        first_serial: int = 0,
        record_id: Callable[[], str] = new_record_id,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        origin: str | None = None,
    ) -> None:
        self.directory = directory
        self.prefix = prefix
        self.info = info
        self.max_bytes = max_bytes
        self.record_id = record_id
        self.clock = clock
        # IIPC names end in the writing process and host, so that parallel writers never clash;
        # within `^[-a-z0-9._/]+$` (index.warc_names), as the WACZ profile takes names
        self.origin = origin or f"{os.getpid()}-{name_part(socket.gethostname())}"
        self._serial = first_serial
        self._current: WarcFile | None = None
        self.closed_files: list[Path] = []
        self.bytes_written = 0
        self._buffer = BytesIO()
        self._serializer = WARCWriter(self._buffer, gzip=False, warc_version=WARC_VERSION)
        keep_heap_for_compressors()

    def write(self, records: Iterable[ArcWarcRecord]) -> str:
        """Write a group of records together; returns the name of the file they went into.

        Should the write fail (a full disk), the file is cut back to the end of the group
        before and closed, so that it holds whole groups only, and the OSError raised."""
        current = self._current or self._open()
        before = current.size
        try:
            for record in records:
                current.handle.write(self._member(record))
            current.handle.flush()
        except OSError:
            self._cut(current, before)
            raise
        self.bytes_written += current.size - before
        name = current.path.name
        if current.size >= self.max_bytes:
            self._close()
        return name

    def close(self) -> None:
        """Close the current file (dropping its `.open` suffix); safe to call twice."""
        if self._current:
            self._close()

    def _open(self) -> WarcFile:
        self.directory.mkdir(parents=True, exist_ok=True)
        moment = self.clock()
        stamp = moment.strftime("%Y%m%d%H%M%S") + f"{moment.microsecond // 1000:03d}"
        name = f"{name_part(self.prefix)}-{stamp}-{self._serial:05d}-{self.origin}.warc.gz"
        path = self.directory / name
        handle = open(path.with_name(name + OPEN_SUFFIX), "xb")  # noqa: SIM115 (closed in _close)
        self._current = WarcFile(path, self._serial, handle)
        self._serial += 1
        try:
            handle.write(self._member(self._warcinfo(name, moment)))
            handle.flush()
        except OSError:
            self._cut(self._current, 0)
            raise
        return self._current

    def _member(self, record: ArcWarcRecord) -> bytes:
        """One record as one gzip member (per-record compression, as WARC readers expect)."""
        self._buffer.seek(0)
        self._buffer.truncate()
        self._serializer.write_record(record)
        gzip = zlib.compressobj(gzip_level(record), zlib.DEFLATED, 31)
        return gzip.compress(self._buffer.getvalue()) + gzip.flush()

    def _warcinfo(self, filename: str, moment: datetime) -> ArcWarcRecord:
        body = "".join(f"{k}: {v}\r\n" for k, v in self.info if v).encode()
        return self._serializer.create_warc_record(
            "",
            "warcinfo",
            payload=BytesIO(body),
            length=len(body),
            warc_content_type="application/warc-fields",
            warc_headers_dict={
                "WARC-Record-ID": self.record_id(),
                "WARC-Date": warc_date(moment),
                "WARC-Filename": filename,
            },
        )

    def _close(self) -> None:
        current = self._current
        assert current is not None
        current.handle.close()
        os.replace(current.open_path, current.path)
        self.closed_files.append(current.path)
        self._current = None

    def _cut(self, current: WarcFile, end: int) -> None:
        """After a failed write: drop what was written of `current` past `end` and close it
        under its final name (a file cut back to nothing is removed)."""
        try:
            current.handle.close()
        except OSError:
            pass  # the buffered bytes it could not write are cut off below anyway
        self._current = None
        if end == 0:
            current.open_path.unlink()
            return
        os.truncate(current.open_path, end)
        os.replace(current.open_path, current.path)
        self.closed_files.append(current.path)


def gzip_level(record: ArcWarcRecord) -> int:
    """0 (stored) for a record whose payload is compressed already, else GZIP_LEVEL."""
    if record.rec_type == "resource":
        mime = record.rec_headers.get_header("Content-Type") or ""
        encoding = ""
    elif record.rec_type == "response" and record.http_headers is not None:
        mime = record.http_headers.get_header("Content-Type") or ""
        encoding = record.http_headers.get_header("Content-Encoding") or ""
    else:
        return GZIP_LEVEL
    if mime.strip().lower().startswith(_COMPRESSED_TYPES) or \
            encoding.strip().lower() in _COMPRESSED_ENCODINGS:
        return 0
    return GZIP_LEVEL


def repair_open_file(open_path: Path) -> tuple[Path, int]:
    """Make a WARC left `.open` by a killed crawl whole again.

    Keeps every complete gzip member (our files hold one record per member), cuts a partly
    written last one, and renames the file to its closed name. Returns the closed path and
    the number of bytes cut.
    """
    good_end = _complete_members_end(open_path)
    size = open_path.stat().st_size
    with open(open_path, "r+b") as stream:
        stream.truncate(good_end)
    closed = open_path.with_name(open_path.name[: -len(OPEN_SUFFIX)])
    os.replace(open_path, closed)
    return closed, size - good_end


def _complete_members_end(path: Path, chunk: int = 1 << 20) -> int:
    """Offset just past the last gzip member that decompresses to its end."""
    good_end = offset = 0
    member = zlib.decompressobj(31)
    with open(path, "rb") as stream:
        while data := stream.read(chunk):
            while data:
                try:
                    member.decompress(data)
                except zlib.error:
                    return good_end
                if not member.eof:
                    offset += len(data)
                    break
                used = len(data) - len(member.unused_data)
                offset += used
                good_end = offset
                data = member.unused_data
                member = zlib.decompressobj(31)
    return good_end

