"""Each page's visits from the catalog, and at which of them its text had changed.

A page is a URL the catalog holds an HTML capture (or a redirect) of; its visits are its
captures (response and revisit records, of any crawl or imported WARC; several in one second
count once). A visit found a change when the page's text differs from the visit before,
after the noise rules (`ignore` of the network and of the page's site, as `palimpsest diff`
applies them): its fingerprint is compared, not its bytes.

The fingerprint is the cheapest sound one. For a page no rule applies to, it is the capture's
`text_key` from the catalog: the digest of its extracted full text that the full-text pass
already computed (index.fulltext_pass.text_key), at no cost; a capture without one (its
payload gave no text, or the full text is not indexed) is read and digested the same way. For
a page with rules, its text is read (index.compare.versions, with the `css:` rules' elements
dropped), the regular expressions blanked out, the whitespace folded, and the result
digested; these are kept in `<collection>/derived/schedule-texts.json` by (rules, URL,
payload digest), so each payload is read once. Captures whose payload digests agree are one
text without reading anything; a capture that is not 2xx has its status as fingerprint (a
page gone 404 has changed).
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path

from index.catalog import Capture, Catalog
from index.collection import Collection
from index.compare.diff import CSS_PREFIX, rules_for
from index.compare.versions import load_version
from index.config import NetworkConfig
from index.errors import UsageError
from index.extract import HTML_TYPES
from index.fulltext_pass import text_key
from index.schedule.estimator import Interval, intervals_of
from index.schedule.state import write_json_atomically
from index.timestamps import timestamp_time

CACHE_NAME = "schedule-texts.json"


@dataclass(frozen=True)
class PageHistory:
    """A page's visits (days since the epoch, ascending) and whether each visit after the
    first found its text changed."""

    url: str
    site: str | None
    times: tuple[float, ...]
    changed: tuple[bool, ...]

    @property
    def intervals(self) -> list[Interval]:
        return intervals_of(self.times, self.changed)

    @property
    def last_change(self) -> float | None:
        """When a visit last found the page changed (days), None if none has."""
        found = [t for t, c in zip(self.times[1:], self.changed, strict=True) if c]
        return found[-1] if found else None


def page_histories(collection: Collection, config: NetworkConfig | None, *,
                   remember: bool = True) -> list[PageHistory]:
    """Every page's history, by URL. With `remember` False, fingerprints read from payloads
    are not written to the collection (the read-only web UI)."""
    with Catalog.open(collection) as catalog, _Fingerprints(collection, remember) as prints:
        return [_history(url, captures, prints, rules_for(config, url))
                for url, captures in catalog.visits_by_url()
                if any(_is_page(c) for c in captures)]


def _is_page(capture: Capture) -> bool:
    """An HTML capture, or a redirect (a seed that redirects is visited too: planned as a
    page, it is never taken for one not visited yet)."""
    return capture.mime in HTML_TYPES or (capture.status is not None
                                          and 300 <= capture.status < 400)


def _history(url: str, captures: list[Capture], fingerprints: _Fingerprints,
             rules: tuple[str, ...]) -> PageHistory:
    captures.sort(key=lambda c: (c.timestamp, c.id))
    times: list[float] = []
    prints: list[str] = []
    by_digest: dict[str | None, str] = {}
    for capture in captures:
        moment = timestamp_time(capture.timestamp).timestamp() / 86400
        if times and moment <= times[-1]:
            continue  # the same second: one visit (a revisit and its redirect, say)
        times.append(moment)
        prints.append(_fingerprint(capture, fingerprints, rules, by_digest))
    changed = tuple(a != b for a, b in zip(prints, prints[1:], strict=False))
    site = next((c.site for c in reversed(captures) if c.site), None)
    return PageHistory(url, site, tuple(times), changed)


def _fingerprint(capture: Capture, fingerprints: _Fingerprints, rules: tuple[str, ...],
                 by_digest: dict[str | None, str]) -> str:
    """What the capture's text is, to compare with the URL's other visits (module docstring)."""
    if capture.status is not None and not 200 <= capture.status < 300:
        return f"status:{capture.status}"
    digest = capture.text_digest
    if digest in by_digest:
        return by_digest[digest]
    if not rules and capture.text_key:
        found = capture.text_key
    elif not capture.has_payload:
        found = f"payload:{digest}"  # an unresolved revisit: its digest is all there is
    else:
        found = fingerprints.get(capture, rules)
    by_digest[digest] = found
    return found


class _Fingerprints:
    """Fingerprints read from payloads, remembered in the collection's derived folder."""

    def __init__(self, collection: Collection, remember: bool) -> None:
        self.collection = collection
        self.remember = remember
        self.path = collection.derived_dir / CACHE_NAME
        self.known: dict[str, str] = _read_json(self.path)
        self.added = False

    def __enter__(self) -> _Fingerprints:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.added and self.remember:
            write_json_atomically(self.path, self.known)

    def get(self, capture: Capture, rules: tuple[str, ...]) -> str:
        key = hashlib.sha1(json.dumps([rules, capture.url, capture.text_digest]).encode()
                           ).hexdigest()
        if key not in self.known:
            self.known[key] = _read_fingerprint(self.collection, capture, rules)
            self.added = True
        return self.known[key]


def _read_fingerprint(collection: Collection, capture: Capture, rules: tuple[str, ...]) -> str:
    selectors = tuple(r.removeprefix(CSS_PREFIX) for r in rules if r.startswith(CSS_PREFIX))
    version = load_version(collection, capture, selectors)
    text = version.words(True)
    if not rules:
        return text_key(capture.url, text)  # the domain of the catalog's text_key
    for rule in rules:
        if not rule.startswith(CSS_PREFIX):
            text = _pattern(rule).sub(" ", text)
    return "rules:" + hashlib.sha1(" ".join(text.split()).encode()).hexdigest()[:24]


def _pattern(rule: str) -> re.Pattern:
    try:
        return re.compile(rule)
    except re.error as exc:
        raise UsageError(f"ignore rule {rule!r} is not a regular expression: {exc}") from None


def _read_json(path: Path) -> dict:
    try:
        found = json.loads(path.read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError):
        return {}  # none yet, or torn: what it held is computed again
    return found if isinstance(found, dict) else {}
