"""Undoing a body's Content-Encoding in bounded streams.

A body is inflated a piece at a time and never to more than a limit, however it was packed
(gzip, deflate, br, several of them in a row, gzip members one after another): what fits is
kept and the rest is not even inflated, so a gzip bomb (a megabyte that inflates to a gigabyte)
costs the limit, not the gigabyte. The crawler, the indexer and replay all inflate through here.

A coding that turns out not to be what the label says leaves the bytes as they are (servers
mislabel); a stream damaged after a good start keeps what was inflated before the damage.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from io import BytesIO

import brotli

from index.config import Limits

# A config may switch the download limit off (0); a body still may not inflate without end.
DEFAULT_LIMIT: int = Limits.max_response_bytes
CHUNK = 64 * 1024
_GZIP_MAGIC = b"\x1f\x8b"
_NO_CODING = ("", "identity")


@dataclass(frozen=True, slots=True)
class Inflated:
    """A decoded body, and whether it went on past the limit (then `body` is its beginning)."""

    body: bytes
    cut: bool


def inflate(body: bytes | Iterable[bytes], coding: str | None, limit: int = DEFAULT_LIMIT
            ) -> Inflated:
    """`body` (bytes, or its pieces in order) with the Content-Encoding `coding` undone, cut
    at `limit` bytes (`limit` <= 0: DEFAULT_LIMIT). A body with no coding to undo is returned
    whole: its bytes are what was stored, not what they inflate to."""
    limit = limit if limit > 0 else DEFAULT_LIMIT
    pieces = [body] if isinstance(body, bytes) else body
    if not codings(coding):
        return Inflated(b"".join(pieces), False)
    # BytesIO hands its buffer over without a copy: the body costs the limit once, not twice
    out = BytesIO()
    for piece in inflated(pieces, coding):
        room = limit - out.tell()
        if len(piece) > room:
            out.write(piece[:room])
            return Inflated(out.getvalue(), True)
        out.write(piece)
    return Inflated(out.getvalue(), False)


def inflated(pieces: Iterable[bytes], coding: str | None) -> Iterator[bytes]:
    """The pieces of the body with `coding` undone, each at most about CHUNK bytes, inflated
    only as they are asked for: stop iterating and nothing more is inflated."""
    stream = iter(pieces)
    for name in reversed(codings(coding)):
        if not known(name):
            break  # an unknown coding: what lies under it cannot be reached
        stream = _undo(stream, name)
    return stream


def codings(coding: str | None) -> list[str]:
    """The content codings a Content-Encoding value names, in the order they were applied."""
    names = (c.strip().lower() for c in (coding or "").split(","))
    return [n for n in names if n not in _NO_CODING]


def known(name: str) -> bool:
    """Whether a content coding (as `codings` names it) can be undone here."""
    return name in _DECODERS


def _undo(stream: Iterator[bytes], name: str) -> Iterator[bytes]:
    decoder = _DECODERS[name]()
    before: list[bytes] | None = []  # read before the first output, in case it is not `name`
    for data in stream:
        if before is not None:
            before.append(data)
        try:
            for piece in decoder.decode(data):
                before = None
                yield piece
        except (zlib.error, brotli.error):
            if before is not None:  # never was in this coding: the bytes as they are
                yield from before
                yield from stream
            return
        if decoder.done:
            return
    if before is None:
        yield decoder.flush()


class _Zlib:
    """gzip (any number of members) or deflate (zlib-wrapped or raw: servers send both)."""

    def __init__(self, gzip: bool) -> None:
        self.gzip = gzip
        self.inflater: zlib._Decompress | None = None
        self.done = False

    def decode(self, data: bytes) -> Iterator[bytes]:
        if not data:
            return
        if self.inflater is None or self.inflater.eof:
            if self.inflater is not None and not (self.gzip and data[:2] == _GZIP_MAGIC):
                self.done = True  # trailing bytes after the stream: not part of the body
                return
            self.inflater = zlib.decompressobj(self._wbits(data))
        while True:
            piece = self.inflater.decompress(data, CHUNK)
            if piece:
                yield piece
            if self.inflater.eof:
                data = self.inflater.unused_data
                if not data:
                    return
                if not (self.gzip and data[:2] == _GZIP_MAGIC):
                    self.done = True
                    return
                self.inflater = zlib.decompressobj(self._wbits(data))
                continue
            data = self.inflater.unconsumed_tail
            if not data and len(piece) < CHUNK:
                return

    def flush(self) -> bytes:
        # all input is consumed (no unconsumed tail): what zlib still holds is under a window
        if self.inflater is None or self.inflater.eof:
            return b""
        try:
            return self.inflater.flush()
        except zlib.error:  # damaged at its very end: what was inflated stands
            return b""

    def _wbits(self, data: bytes) -> int:
        if self.gzip:
            return 16 + zlib.MAX_WBITS
        return zlib.MAX_WBITS if data[:1] == b"\x78" else -zlib.MAX_WBITS


class _Brotli:
    """br, asked for output a CHUNK at a time."""

    def __init__(self) -> None:
        self.decompressor = brotli.Decompressor()
        self.done = False

    def decode(self, data: bytes) -> Iterator[bytes]:
        while True:
            piece = self.decompressor.process(data, output_buffer_limit=CHUNK)
            data = b""
            if piece:
                yield piece
            if self.decompressor.is_finished():
                self.done = True
                return
            if not piece:  # all of the input so far is out: ask for more
                return

    def flush(self) -> bytes:
        return b""


_DECODERS = {
    "gzip": lambda: _Zlib(gzip=True),
    "x-gzip": lambda: _Zlib(gzip=True),
    "deflate": lambda: _Zlib(gzip=False),
    "br": _Brotli,
}
