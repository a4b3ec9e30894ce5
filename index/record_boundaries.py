"""Where a record provably begins in a WARC or ARC file, gzipped or not: to resume reading
after damage (index.warc_reader) and to tell that a file is an archive at all.

A candidate boundary (a gzip member, a `WARC/` line, an ARC header line) counts only if what
follows it is a whole record: a gzip member that decodes to a WARC (or ARC) header line, or
an uncompressed header whose Content-Length lands on the blank line ending the record.
"""

from __future__ import annotations

import re
import zlib
from pathlib import Path
from typing import BinaryIO

GZIP_MAGIC = b"\x1f\x8b"
# some tools end their header lines in CR CR LF; warcio reads them, and so do we
_WARC_LINE = re.compile(rb"WARC/[01]\.\d+\r*\n")
# an ARC 1.0 header line: URL (spaces and all), IP address, 14-digit date, type, length
_ARC_LINE = re.compile(rb"[a-zA-Z][\w+.-]*:[^\r\n]* \S+ \d{14} \S+ (\d+)\r?\n")
# where a record may begin, by (gzipped, ARC); group 1 is the candidate (a gzip member is
# magic + deflate, as every gzip member of a WARC begins)
_BOUNDARIES = {(True, False): re.compile(rb"(\x1f\x8b\x08)"),
               (True, True): re.compile(rb"(\x1f\x8b\x08)"),
               (False, False): re.compile(rb"(WARC/)"),
               (False, True): re.compile(rb"\n([a-zA-Z][\w+.-]*:)")}
_SCAN = 1024 * 1024
_OVERLAP = 64  # of one scanned window with the next, so that no boundary falls between them
_MAX_HEADER = 256 * 1024


def is_gzipped(fh: BinaryIO, path: Path) -> bool:
    start = fh.read(5)
    fh.seek(0)
    if start.startswith(GZIP_MAGIC):
        return True
    if start.startswith(b"WARC/"):
        return False
    return path.name.endswith(".gz")  # the first record is damaged: trust the name


def next_record_start(fh: BinaryIO, start: int, gzipped: bool, arc: bool) -> int | None:
    """The first offset at or after `start` where a whole record provably begins."""
    boundary = _BOUNDARIES[gzipped, arc]
    pos = max(start - 1, 0)  # one byte back: an ARC header line is known by the newline before
    while True:
        fh.seek(pos)
        window = fh.read(_SCAN + _OVERLAP)
        for hit in boundary.finditer(window):
            at = pos + hit.start(1)
            if at >= start and record_starts_at(fh, at, gzipped, arc):
                return at
        if len(window) < _SCAN + _OVERLAP:
            return None
        pos += _SCAN


def record_starts_at(fh: BinaryIO, at: int, gzipped: bool, arc: bool) -> bool:
    if gzipped:
        return _gzip_member_starts_record(fh, at, arc)
    if at > 0:
        fh.seek(at - 1)
        if fh.read(1) != b"\n":
            return False
    fh.seek(at)
    if arc:
        return _arc_record_at(fh, at)
    first = fh.readline(100)
    if not _WARC_LINE.fullmatch(first):
        return False
    length, size = None, len(first)
    while size < _MAX_HEADER:
        line = fh.readline(_MAX_HEADER)
        size += len(line)
        if not line.strip():
            break
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length" and value.strip().isdigit():
            length = int(value)
    else:
        return False
    if length is None:
        return False
    # the block must end exactly where a blank line (or the file) begins, or where the next
    # record does (a writer that left out the blank lines: other tools read on)
    fh.seek(at + size + length)
    tail = fh.read(12)
    return tail[:2] in (b"", b"\r\n") or tail.startswith(b"\n") or bool(_WARC_LINE.match(tail))


def _arc_record_at(fh: BinaryIO, at: int) -> bool:
    """Whether an ARC header line is at `at` whose length lands on the newline ending its
    record (or on the end of the file)."""
    line = fh.readline(_MAX_HEADER)
    found = _ARC_LINE.fullmatch(line)
    if not found:
        return False
    fh.seek(at + len(line) + int(found[1]))
    return fh.read(1) in (b"", b"\n")


def _gzip_member_starts_record(fh: BinaryIO, at: int, arc: bool) -> bool:
    fh.seek(at)
    unzip = zlib.decompressobj(16 + zlib.MAX_WBITS)
    out = b""
    for _ in range(16):
        chunk = fh.read(4096)
        if not chunk:
            break
        try:
            out += unzip.decompress(chunk)
        except zlib.error:
            return False
        if b"\n" in out or unzip.eof:
            break
    return bool((_ARC_LINE if arc else _WARC_LINE).match(out))
