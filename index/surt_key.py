"""SURT keys and the key ranges of CDX match types, computed as cdxj-indexer and pywb do.

The catalog stores `surt_key(url)` for every capture, so its sort order and its range lookups
agree with a CDXJ file made by cdxj-indexer and with pywb's CDX server.
"""

from __future__ import annotations

MATCH_TYPES = ("exact", "prefix", "host", "domain")


def surt_key(url: str) -> str:
    """The SURT key cdxj-indexer writes for `url` (the URL itself if it cannot be SURT-ed)."""
    # imported on first use: surt imports tldextract (0.1 s), which a crawl that has no
    # new WARC file to catalogue never needs
    import surt

    try:
        return surt.surt(url)
    except Exception:  # cdxj-indexer falls back to the URL on any failure, so do we
        return url


def match_range(url: str, match_type: str) -> tuple[str, str]:
    """The half-open range [start, end) of SURT keys that `match_type` selects for `url`,
    as pywb's CDX server computes it (`exact`, `prefix`, `host`, `domain`)."""
    start = surt_key(url)
    if match_type == "exact":
        return start, start + "!"
    if match_type == "prefix":
        # surt drops a trailing slash or question mark that the asker meant as a boundary
        if url.endswith("/") and not start.endswith("/"):
            start += "/"
        if url.endswith("?") and not start.endswith("?"):
            start += "?"
        return start, _next_key(start)
    host = start.split(")/")[0]
    if match_type == "host":
        return host + ")/", host + "*"
    if match_type == "domain":
        # a bare top-level domain ("com") has no ")/" part to anchor on
        return (host + "," if "," not in host else host + ")/"), host + "-"
    raise ValueError(f"matchType must be one of {', '.join(MATCH_TYPES)}, not {match_type!r}")


def _next_key(key: str) -> str:
    return key[:-1] + chr(ord(key[-1]) + 1)
