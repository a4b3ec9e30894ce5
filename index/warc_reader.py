"""Reading WARC and ARC files written by any tool, record by record, without losing what
follows damage.

`WarcReader` streams a `.warc` or `.warc.gz` file (WARC 1.0 or 1.1; wget, Heritrix, warcio,
Browsertrix and our crawler alike), or an `.arc` or `.arc.gz` file (ARC 1.0, as the Internet
Archive's and old Heritrix crawls wrote them; its records come as WARC records, as warcio's
arc2warc gives them), through warcio's iterator and yields one small `WarcRecord` per record,
with the offset and length a CDXJ line would give it. Where warcio would print a warning and
guess (a wrong Content-Length, a broken gzip member), this reader stops, reports a `Damage`
(file, offset, what was wrong) and resumes at the next record boundary it can prove: a gzip
member that decodes to a `WARC/` (or ARC header) line, or an uncompressed `WARC/1.x` header
whose Content-Length lands on the blank line ending the record. So no intact record after the
damage is lost. What other tools read without a word but is not as the format says (a record
not followed by its blank lines, or by stray bytes before the next record) is read and
reported as a `Quirk`.

`read_payload` gives one record's HTTP head and entity body, decoded (chunking and
Content-Encoding gzip/deflate/br removed, inflated to a bounded size), for text extraction, replay
and comparison.
"""

from __future__ import annotations

import hashlib
import os
import re
import zlib
from base64 import b32encode
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from warcio.archiveiterator import ArchiveIterator
from warcio.bufferedreaders import ChunkedDataReader, DecompressingBufferedReader
from warcio.exceptions import ArchiveLoadFailed
from warcio.limitreader import LimitReader
from warcio.recordloader import ArcWarcRecord, ArcWarcRecordLoader
from warcio.statusandheaders import StatusAndHeaders, StatusAndHeadersParserException

from index.errors import DamagedRecord
from index.inflate import DEFAULT_LIMIT, inflate
from index.record_boundaries import GZIP_MAGIC, is_gzipped, next_record_start, record_starts_at
from index.record_digests import DigestTee, new_digest, same_digest

ARC_SUFFIXES = (".arc", ".arc.gz")
_BLOCK = 64 * 1024
# record types whose payload digest cdxj-indexer computes when the WARC does not carry one
_DIGESTED_TYPES = ("response", "resource", "metadata")
_CHUNK_SIZE = re.compile(rb"([0-9a-fA-F]{1,16})(?:;[^\r\n]*)?\r\n")  # size, extensions
_WRONG_END = "record does not end where its Content-Length says (a wrong length, or bytes cut out)"


class _Damage(Exception):
    """A record that cannot be read as its headers describe it."""


# what warcio, zlib and our own checks raise on bytes that are not a well-formed record
_READ_ERRORS = (_Damage, ArchiveLoadFailed, StatusAndHeadersParserException, zlib.error,
                EOFError, ValueError, UnicodeError, IndexError)


@dataclass(frozen=True, slots=True)
class WarcRecord:
    """One record: where it is, and the header values the catalog and the CDXJ need."""

    offset: int
    length: int  # as cdxj-indexer counts it: the gzip member, or the record without its CRLFs
    warc_type: str
    record_id: str | None
    target_uri: str | None  # angle brackets (wget 1.19) stripped, spaces escaped, as warcio does
    warc_date: str | None
    content_type: str | None  # the record's own Content-Type
    http_status: str | None  # first word of the HTTP status line (response and revisit only)
    http_content_type: str | None
    payload_digest: str | None  # WARC-Payload-Digest, else computed as cdxj-indexer does
    refers_to: str | None
    refers_to_uri: str | None
    refers_to_date: str | None
    truncated: str | None  # WARC-Truncated
    digest_faults: tuple[str, ...] = ()  # only filled when read with check_digests
    concurrent_to: str | None = None  # WARC-Concurrent-To (the first, if several)


@dataclass(frozen=True, slots=True)
class Damage:
    """A stretch of a WARC file that could not be read as records."""

    file: str
    offset: int
    what: str
    resumed_at: int | None  # the next record boundary found; None if nothing readable followed

    def __str__(self) -> str:
        if self.resumed_at is None:
            after = "nothing readable after it"
        else:
            after = f"{self.resumed_at - self.offset} bytes skipped"
        return f"{self.file} at offset {self.offset}: {self.what} ({after})"


@dataclass(frozen=True, slots=True)
class Quirk:
    """A record read whole although the bytes around it are not as the format says."""

    file: str
    offset: int  # of the record
    what: str

    def __str__(self) -> str:
        return f"{self.file} at offset {self.offset}: {self.what}"


class WarcReader:
    """Iterate the records of one WARC or ARC file (ARC when its name ends in `.arc` or
    `.arc.gz`); damage met on the way is in `.damage`, quirks in `.quirks`.

    Iterating never raises for malformed content: each stretch that cannot be read is
    appended to `damage` and skipped. With `check_digests`, each record's block and payload
    digests are recomputed and any mismatch is listed in its `digest_faults`.
    """

    def __init__(self, path: str | os.PathLike, *, check_digests: bool = False) -> None:
        self.path = Path(path)
        self.check_digests = check_digests
        self.damage: list[Damage] = []
        self.quirks: list[Quirk] = []
        self._loader = ArcWarcRecordLoader(verify_http=False, arc2warc=False)

    def __iter__(self) -> Iterator[WarcRecord]:
        arc = is_arc(self.path)
        with open(self.path, "rb") as fh:
            gzipped = is_gzipped(fh, self.path)
            pos: int | None = 0
            while pos is not None:
                fh.seek(pos)
                records = _StrictIterator(fh, gzipped, arc=arc)
                pos = None
                try:
                    for record in records:
                        read = self._read(record, records)
                        self.quirks += [Quirk(str(self.path), at, what)
                                        for at, what in records.notes]
                        records.notes.clear()
                        if records.stray_at is None:
                            yield read
                            continue
                        # a fresh start after the stray bytes; the iterator is past them
                        pos = next_record_start(fh, read.offset + 1, gzipped, arc)
                        stated = record.rec_headers.get_header("WARC-Block-Digest")
                        intact = _block_intact(fh, read, stated)
                        if self._whole(read, records.stray_at, pos, intact):
                            yield read
                        break
                except _READ_ERRORS as exc:
                    bad = records.offset  # start of the record being read when it failed
                    pos = next_record_start(fh, bad + 1, gzipped, arc)
                    self.damage.append(Damage(str(self.path), bad, describe(exc), pos))

    def _whole(self, read: WarcRecord, stray_at: int, resumed_at: int | None,
               intact: bool) -> bool:
        """Whether a record followed by stray bytes (at `stray_at`) was read whole, as other
        tools read it: so it is, unless its block digest fails or the next record begins
        inside it (a Content-Length too long, or bytes cut out, swallowed that record's
        start). Reports which it was."""
        if not intact or resumed_at is not None and resumed_at < stray_at:
            self.damage.append(Damage(str(self.path), read.offset, _WRONG_END, resumed_at))
            return False
        end = self.path.stat().st_size if resumed_at is None else resumed_at
        if end == stray_at:
            what = "record is not followed by the blank lines that end a record"
        else:
            what = (f"record is followed by {end - stray_at} stray bytes (at offset {stray_at}) "
                    "instead of the blank lines that end a record")
        self.quirks.append(Quirk(str(self.path), read.offset, what))
        return True

    def _read(self, record: ArcWarcRecord, records: _StrictIterator) -> WarcRecord:
        # one dict instead of warcio's linear scan per header; the first of a repeated name wins
        named = {k.lower(): v for k, v in reversed(record.rec_headers.headers)}
        kind = record.rec_type or ""
        declared = named.get("content-length")
        if declared is None or not declared.strip().isdigit():
            raise _Damage(f"Content-Length is {declared!r}, not a number")
        uri = named.get("warc-target-uri")
        stated_payload = named.get("warc-payload-digest")
        block = DigestTee(record.raw_stream)
        block_hash = payload_hash = None
        stated_block = named.get("warc-block-digest")
        faults: list[str] = []
        if self.check_digests and stated_block:
            block_hash = new_digest(stated_block, "block", faults)
            block.hashes.append(block_hash)
        http = None
        if uri and record.length:
            # warcio's own rule for which records carry HTTP headers, on the bytes we digest
            http = self._loader.load_http_headers(kind, uri, block, record.length)
        check_payload = (self.check_digests and stated_payload and kind != "revisit"
                         and not named.get("warc-segment-number"))
        if check_payload:
            payload_hash = new_digest(stated_payload, "payload", faults)
        elif not stated_payload and kind in _DIGESTED_TYPES:
            payload_hash = hashlib.sha1()
        if payload_hash is not None:
            block.hashes.append(payload_hash)
        while block.read(_BLOCK):
            pass
        if record.raw_stream.limit:
            raise _Damage(f"record cut short: {record.raw_stream.limit} of its {declared} "
                          "bytes missing")
        offset, length = records.get_record_offset(), records.get_record_length()
        if block_hash is not None and not same_digest(stated_block, block_hash):
            faults.append(f"block digest mismatch: header says {stated_block}")
        if check_payload and payload_hash is not None and not same_digest(stated_payload,
                                                                           payload_hash):
            faults.append(f"payload digest mismatch: header says {stated_payload}")
        if not stated_payload and payload_hash is not None:
            stated_payload = "sha1:" + b32encode(payload_hash.digest()).decode()
        return WarcRecord(
            offset=offset,
            length=length,
            warc_type=kind,
            # an ARC record has no id: warcio's arc2warc makes up a new one at each reading
            record_id=None if records.arc else named.get("warc-record-id"),
            target_uri=uri,
            warc_date=named.get("warc-date"),
            content_type=named.get("content-type"),
            http_status=http.get_statuscode() if http and kind in ("response", "revisit")
            else None,
            http_content_type=http.get_header("Content-Type") if http else None,
            payload_digest=stated_payload,
            refers_to=named.get("warc-refers-to"),
            refers_to_uri=named.get("warc-refers-to-target-uri"),
            refers_to_date=named.get("warc-refers-to-date"),
            truncated=named.get("warc-truncated"),
            digest_faults=tuple(faults),
            concurrent_to=named.get("warc-concurrent-to"),
        )


@dataclass(frozen=True, slots=True)
class Payload:
    """One record's HTTP head and decoded entity body."""

    head: StatusAndHeaders
    body: bytes
    cut: bool  # the body inflated past the limit: `body` holds only its first `limit` bytes


def read_payload(path: str | os.PathLike, offset: int, length: int, *,
                 limit: int = DEFAULT_LIMIT) -> tuple[StatusAndHeaders, bytes]:
    """The HTTP status and headers and the decoded entity body of the record at `offset`, as
    `read_content` gives them."""
    payload = read_content(path, offset, length, limit=limit)
    return payload.head, payload.body


def read_content(path: str | os.PathLike, offset: int, length: int, *,
                 limit: int = DEFAULT_LIMIT) -> Payload:
    """The HTTP head and the decoded entity body of the record at `offset`.

    The body has chunked transfer coding and gzip, deflate or br content coding (or several)
    removed, inflated in a bounded stream: past `limit` bytes it is cut and marked `cut` (a
    body that does not decode as labelled is returned as stored). A record without HTTP headers
    (resource) gets a `200 OK` head carrying its Content-Type. Raises DamagedRecord if no whole
    record can be read there.
    """
    with open(path, "rb") as fh:
        fh.seek(offset)
        gzipped = fh.read(2) == GZIP_MAGIC
        fh.seek(offset)
        records = _StrictIterator(LimitReader(fh, length), gzipped, arc=None,
                                  no_record_parse=False, ensure_http_headers=True)
        try:
            record = next(iter(records))
            head = record.http_headers
            stream = record.raw_stream
            if (head.get_header("Transfer-Encoding") or "").lower() == "chunked":
                stream = _ChunkedOrStored(stream)
            body = inflate(iter(lambda: stream.read(_BLOCK), b""),
                           head.get_header("Content-Encoding"), limit)
            while record.raw_stream.read(_BLOCK):  # the rest, so that damage is still found
                pass
            if record.raw_stream.limit:
                raise _Damage("record cut short")
        except StopIteration:
            raise DamagedRecord(f"{path}: no WARC record at offset {offset}") from None
        except _READ_ERRORS as exc:
            raise DamagedRecord(f"{path} at offset {offset}: {describe(exc)}") from None
    return Payload(head, body.body, body.cut)


def looks_like_archive(path: str | os.PathLike) -> bool:
    """Whether the file begins with a WARC record (plain or gzipped), or with an ARC record if
    its name says ARC."""
    with open(path, "rb") as fh:
        start = fh.read(2)
        fh.seek(0)
        return record_starts_at(fh, 0, start == GZIP_MAGIC, is_arc(path))


def is_arc(path: str | os.PathLike) -> bool:
    """Whether the file's name says ARC (`.arc`, `.arc.gz`)."""
    return Path(path).name.endswith(ARC_SUFFIXES)


def describe(exc: BaseException) -> str:
    """One readable line saying what was wrong with a record."""
    text = " ".join(str(exc).split())
    if isinstance(exc, ArchiveLoadFailed) and "non-chunked gzip" in text:
        return ("records are not gzipped one per member (whole-file gzip); "
                "`warcio recompress` makes such a file readable")
    if isinstance(exc, zlib.error):
        return f"gzip data damaged ({text})"
    if isinstance(exc, EOFError):
        return "record ends before its headers do"
    if isinstance(exc, _Damage):
        return text
    return f"{type(exc).__name__}: {text}"[:300]


class _StrictReader(DecompressingBufferedReader):
    """warcio's buffered reader, told whether the file is gzipped instead of guessing, and
    raising on a damaged gzip member where warcio prints the error and reads on empty."""

    def __init__(self, stream: Any, gzipped: bool) -> None:
        super().__init__(stream, decomp_type="gzip" if gzipped else None)

    def _decompress(self, data: bytes) -> bytes:
        if self.decompressor and data:
            try:
                return self.decompressor.decompress(data)
            except zlib.error as exc:
                raise _Damage(f"gzip data damaged ({exc})") from None
        return data


class _StrictIterator(ArchiveIterator):
    """warcio's iterator of one format (WARC, ARC as WARC, or with `arc=None` whichever the
    record is) with the strict reader, and noting what follows a record where its blank lines
    belong (warcio warns on stderr, or takes it for the next record).

    After a record of a plain WARC comes something else than blank lines, the record's length
    ends where that begins, `stray_at` says where, and the iterator cannot go on: the caller
    decides whether the record was whole and where to resume. In a gzipped file the stray
    bytes are the rest of the record's member, and are skipped. `notes` gets (record offset,
    what) for each record read whole but not followed by its blank lines."""

    def __init__(self, fh: Any, gzipped: bool, *, arc: bool | None,
                 no_record_parse: bool = True, **kwargs: Any) -> None:
        super().__init__(fh, no_record_parse=no_record_parse, arc2warc=True, **kwargs)
        self.reader = _StrictReader(self.fh, gzipped)
        self.known_format = None if arc is None else "arc" if arc else "warc"
        self.arc = arc
        self.stray_at: int | None = None
        self.notes: list[tuple[int, str]] = []

    def _consume_blanklines(self) -> tuple[bytes | None, int]:
        empty_size = 0
        first = True
        while True:
            line = self.reader.readline()
            if not line:
                if first and not self.arc:
                    self.notes.append((self.offset, "record is not followed by the blank "
                                                    "lines that end a record"))
                return None, empty_size
            if line.strip():
                # an ARC record may be followed by no blank line at all: this is the next one
                if first and not self.arc:
                    self._stray(line)
                    return None, empty_size
                return line, empty_size
            empty_size += len(line)
            first = False

    def _stray(self, line: bytes) -> None:
        if self.reader.decompressor:
            while self.reader.readline():
                pass
            self.notes.append((self.offset, "record is followed by stray bytes instead of "
                                            "the blank lines that end a record, in its gzip "
                                            "member"))
        else:
            self.stray_at = self.fh.tell() - self.reader.rem_length() - len(line)

    def read_to_end(self, record: Any = None) -> None:
        super().read_to_end(record)
        if self.stray_at is not None and self.member_info:
            start = self.member_info[0]
            self.member_info = (start, self.stray_at - start)


class _ChunkedOrStored(ChunkedDataReader):
    """warcio's de-chunking reader, taking the body as stored unless it begins with a whole
    chunk (a size line, that many bytes, CRLF). Tools keep a server's `Transfer-Encoding:
    chunked` on bodies they stored de-chunked; warcio checks only the first size line, so a
    body whose first line reads as hex ("2001", "cafe") lost that line and more."""

    def __init__(self, stream: Any) -> None:
        super().__init__(stream)
        self.checked = False

    def _try_decode(self, length_header: bytes) -> None:
        if self.checked:
            return super()._try_decode(length_header)
        self.checked = True
        size = _CHUNK_SIZE.fullmatch(length_header)
        wanted = int(size[1], 16) + 2 if size else 0
        # the first chunk is held whole to be checked; the stream caps it at the record's end
        data = self.stream.read(wanted) if wanted else b""
        if wanted and len(data) == wanted and data.endswith(b"\r\n"):
            self.all_chunks_read = wanted == 2  # the size was 0: an empty body
            self._process_read(data[:-2])
            return None
        self.not_chunked = True
        self._process_read(length_header + data)
        return None


def _block_intact(fh: BinaryIO, read: WarcRecord, stated: str | None) -> bool:
    """Whether the block of the plain WARC record `read` matches its stated block digest
    (True when it states none, or one of an unknown algorithm)."""
    if not stated:
        return True
    digest = new_digest(stated, "block", [])
    if digest is None:
        return True
    fh.seek(read.offset)
    record = next(iter(_StrictIterator(LimitReader(fh, read.length), False, arc=False)))
    for data in iter(lambda: record.raw_stream.read(_BLOCK), b""):
        digest.update(data)
    return same_digest(stated, digest)
