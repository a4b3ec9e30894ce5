"""WARC file names every tool accepts.

The WACZ data-package profile (and so py-wacz's validator) takes resource paths of
`^[-a-z0-9._/]+$` only. Our crawler once named files `...-<pid>~<host>.warc.gz`; new files keep
IIPC's shape (prefix-timestamp-serial-host.warc.gz) within that set, and an export maps any
older or foreign name onto it.
"""

from __future__ import annotations

import re

# what a WACZ resource path may hold (the data-package profile's pattern)
PORTABLE_NAME = re.compile(r"^[-a-z0-9._/]+$")
_OUTSIDE = re.compile(r"[^-a-z0-9.]+")


def name_part(text: str) -> str:
    """`text` (a prefix, a host name) as part of a portable file name: lower case, each run
    of other characters one `-` (so `1234~My_Host` becomes `1234-my-host`)."""
    return _OUTSIDE.sub("-", text.lower()).strip("-") or "x"


def portable_name(name: str) -> str:
    """A file name as a WACZ may hold it: `name` itself when it already is one, else with
    every character outside the set replaced as `name_part` does (the extension kept)."""
    if PORTABLE_NAME.match(name) and "/" not in name:
        return name
    return ".".join(name_part(part) for part in name.split("."))
