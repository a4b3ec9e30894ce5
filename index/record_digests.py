"""Checking a record's digests as it is read: a tee that feeds the bytes read to the digests
being computed, and a stated digest (`sha1:...`, `sha256:...`) compared in any of the
encodings seen in the wild.
"""

from __future__ import annotations

import hashlib
from base64 import b16decode, b32decode, b64decode
from typing import Any


class DigestTee:
    """A record block's stream that feeds what is read to the digests being computed."""

    def __init__(self, stream: Any) -> None:
        self.stream = stream
        self.hashes: list[Any] = []

    def _feed(self, data: bytes) -> bytes:
        for h in self.hashes:
            h.update(data)
        return data

    def read(self, size: int | None = None) -> bytes:
        return self._feed(self.stream.read(size))

    def readline(self, size: int | None = None) -> bytes:
        return self._feed(self.stream.readline(size))


def new_digest(stated: str, which: str, faults: list[str]) -> Any:
    """A new hash of the algorithm the `stated` digest names; None, with a fault noted in
    `faults`, for an algorithm hashlib does not know."""
    algorithm = stated.partition(":")[0].lower().replace("-", "")
    try:
        return hashlib.new(algorithm)
    except ValueError:
        faults.append(f"{which} digest {stated!r}: unknown algorithm")
        return None


def same_digest(stated: str, computed: Any) -> bool:
    """Whether a digest written as base32, base16 or base64 (all seen in the wild) matches."""
    value = stated.partition(":")[2].strip()
    raw = computed.digest()
    for decode in (lambda v: b32decode(v.upper()), lambda v: b16decode(v.upper()), b64decode):
        try:
            if decode(value) == raw:
                return True
        except ValueError:
            continue
    return False
