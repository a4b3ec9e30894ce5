"""Comparing two captures of a URL: what the text says differently, which links came and went,
what changed in title, status, description and headers, with a receipt to cite.

Always computed from the WARC payloads (never from replay HTML). Noise rules from the network
config remove known noise before the comparison: a rule starting with `css:` is a CSS selector
whose elements are dropped from the HTML, any other rule a regular expression whose matches
are blanked in the text. The result says which rules ran and how many differences each hid.
The word-level algorithm itself is in index/compare/textdiff.py.
"""

from __future__ import annotations

import re
import shlex
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import lxml.html
from cssselect import SelectorError
from lxml import etree
from lxml.cssselect import CSSSelector

from index import __version__
from index.catalog import Capture, Catalog, iso_date
from index.collection import Collection
from index.compare.textdiff import TextDiff, diff_words
from index.config import NetworkConfig
from index.errors import CaptureNotFound, UsageError
from index.extract import HTML_TYPES, Extracted, extract
from index.warc_reader import read_payload

CSS_PREFIX = "css:"
HEADERS_COMPARED = ("Content-Type", "Content-Language", "Last-Modified", "Location",
                    "X-Robots-Tag", "Link")
# why a comparison of the full text was chosen over that of the main text
OUTSIDE_MAIN = "only text outside the main text changed"
EXTRACTION_DIFFERS = ("the main text's diff counts {main} changed words, the full text's "
                      "{full}: the main text was extracted differently from the two captures, "
                      "so the full text is compared")
# extracted payloads kept per process: a capture's payload never changes, and the change
# report, the timeline and the watch phrases read the same ones again and again
_CACHED_VERSIONS = 512


@dataclass(frozen=True)
class Version:
    """One side of a comparison: the capture and what was read from its payload."""

    capture: Capture
    status: int
    headers: dict[str, str]
    text: Extracted | None
    dropped: tuple[tuple[str, str], ...] = ()  # (selector, text) of elements ignore rules removed


@dataclass(frozen=True)
class Options:
    """How to compare. `full`: the full visible text rather than the main text; None picks
    the main text unless only text outside it (menus, footers: a dropped disclosure line)
    changed. `rules`: noise rules (regular expressions, or `css:` selectors)."""

    full: bool | None = None
    ignore_case: bool = False
    ignore_whitespace: bool = True
    rules: tuple[str, ...] = ()

    @property
    def selectors(self) -> tuple[str, ...]:
        return tuple(r.removeprefix(CSS_PREFIX) for r in self.rules if r.startswith(CSS_PREFIX))


def load_version(collection: Collection, capture: Capture, selectors: tuple[str, ...] = ()
                 ) -> Version:
    """Read and extract one capture's payload from the WARC record holding it, first removing
    the HTML elements that the CSS `selectors` (noise rules) match."""
    if not capture.has_payload:
        raise CaptureNotFound(f"the payload of {capture.url} at {capture.timestamp} is not in "
                              "the collection")
    status, headers, text, dropped = _read(
        collection.inside(capture.payload_file), capture.payload_offset,
        capture.payload_length, capture.digest, capture.url, capture.mime or "",
        capture.status or 0, selectors)
    return Version(capture, status, dict(headers), text, dropped)


def rules_for(config: NetworkConfig | None, url: str) -> tuple[str, ...]:
    """The noise rules that apply to `url`: the network's, then its site's."""
    if config is None:
        return ()
    site = config.site_of(url)
    return tuple(config.ignore) + (site.ignore if site else ())


def compare(collection: Collection, a: Capture, b: Capture, options: Options = Options()
            ) -> dict[str, Any]:
    """The diff JSON object of DESIGN.md for captures `a` (older) and `b` (newer)."""
    old = load_version(collection, a, options.selectors)
    new = load_version(collection, b, options.selectors)
    chosen = _text_diff(old, new, options)
    result, full = chosen.result, chosen.full
    old_links = set(old.text.outlinks if old.text else ())
    new_links = set(new.text.outlinks if new.text else ())
    return {
        "url": b.url,
        "from": _side(old), "to": _side(new),
        "ratio": result.ratio,
        "text": result.ops,
        "links": {"added": sorted(new_links - old_links),
                  "removed": sorted(old_links - new_links)},
        "metadata": _metadata(old, new),
        "changes": result.changes,
        "words": {"changed": result.changed_words, "total": result.total_words},
        "rules": [{"rule": rule, "hidden": chosen.hidden[rule]} for rule in options.rules],
        "options": {"text": "full" if full else "main", "text_why": chosen.why,
                    "ignore_case": options.ignore_case,
                    "ignore_whitespace": options.ignore_whitespace,
                    "case_changes_hidden": result.case_hidden,
                    "whitespace_changes_hidden": result.whitespace_hidden},
        "receipt": receipt(old, new, options, full),
    }


def change_ratio(collection: Collection, a: Capture, b: Capture,
                 rules: tuple[str, ...] = ()) -> float:
    """The share of text that changed from `a` to `b` (the figure the diff page shows), for
    timelines and reports: 0.0 at no cost when the payload digests agree, else the two
    payloads' texts are compared (each payload read once per process)."""
    if a.digest and a.digest == b.digest:
        return 0.0
    options = Options(rules=rules)
    old = load_version(collection, a, options.selectors)
    new = load_version(collection, b, options.selectors)
    return _text_diff(old, new, options).result.ratio


def permalink(a: Capture, b: Capture, options: Options = Options(), full: bool = False
              ) -> str:
    """The permanent URL of a comparison as asked for; options other than the defaults ride
    on the second timestamp, as Wayback modifiers do (`_full`, `_main`, `_case`, `_breaks`).
    A text left to choose stays unpinned, so the page says why it compared the one it did."""
    flags = "".join(flag for flag, on in (("_full", full or options.full is True),
                                          ("_main", options.full is False),
                                          ("_case", options.ignore_case),
                                          ("_breaks", not options.ignore_whitespace)) if on)
    return f"/diff/{a.timestamp}/{b.timestamp}{flags}/{b.url}"


def receipt(old: Version, new: Version, options: Options, full: bool) -> dict[str, Any]:
    """What is needed to re-run this comparison as evidence, and its permanent URL."""
    a, b = old.capture, new.capture
    command = ["palimpsest", "diff", b.url, "--from", a.timestamp, "--to", b.timestamp]
    command += ["--full"] if full else []
    command += ["--ignore-case"] if options.ignore_case else []
    command += ["--count-breaks"] if not options.ignore_whitespace else []
    return {
        "software": f"Palimpsest/{__version__}", "version": __version__,
        "permalink": permalink(a, b, options),
        "command": shlex.join(command),
        "from": _record(a), "to": _record(b),
        "rules": list(options.rules), "text": "full" if full else "main",
        "ignore_case": options.ignore_case, "ignore_whitespace": options.ignore_whitespace,
    }


def default_pair(catalog: Catalog, url: str, from_ts: str | None, to_ts: str | None
                 ) -> tuple[Capture, Capture]:
    """The two captures to compare: those nearest the times asked for (the newest if only
    `from_ts` is given), else the newest and the latest one before it whose payload differs."""
    captures = [c for c in catalog.captures(url) if c.has_payload]
    if not captures:
        raise CaptureNotFound(f"no capture of {url}")
    if from_ts or to_ts:
        a = catalog.nearest(url, from_ts) if from_ts else None
        b = catalog.nearest(url, to_ts) if to_ts else captures[-1]
        if a is None and b is not None:
            # only --to: the latest capture before it whose payload differs
            a = next((c for c in reversed(captures) if c.timestamp < b.timestamp
                      and c.digest != b.digest), None)
        if a is None or b is None:
            raise CaptureNotFound(f"no capture of {url} to compare near the times given")
        if a.id == b.id:
            raise UsageError(f"--from and --to both name the capture of {url} at "
                             f"{a.timestamp}: give two different times")
        return (a, b) if (a.timestamp, a.id) <= (b.timestamp, b.id) else (b, a)
    newest = captures[-1]
    for older in reversed(captures[:-1]):
        if older.digest != newest.digest:
            return older, newest
    raise UsageError(f"{url} has {len(captures)} capture(s) and no two differ: nothing to "
                     "compare")


@dataclass(frozen=True)
class _TextDiff:
    """The word diff of the text chosen, which text that was, why, and what the rules hid."""

    result: TextDiff
    full: bool
    why: str | None  # why the full text was compared when the options left it open
    hidden: Counter[str]


def _text_diff(old: Version, new: Version, options: Options) -> _TextDiff:
    """The word diff of the texts the options pick (or, with `options.full` None, the text
    that tells the truth about the page), after the noise rules."""
    selected: Counter[str] = Counter()
    for selector in options.selectors:
        selected[CSS_PREFIX + selector] = _differing(
            [t for s, t in old.dropped if s == selector], [t for s, t in new.dropped
                                                           if s == selector])
    patterns = [(rule, _compile(rule)) for rule in options.rules
                if not rule.startswith(CSS_PREFIX)]

    def diff(full: bool, why: str | None = None) -> _TextDiff:
        old_text, new_text = _text(old, full), _text(new, full)
        hidden = selected.copy()
        for rule, pattern in patterns:
            hidden[rule] = _differing(pattern.findall(old_text), pattern.findall(new_text))
            old_text, new_text = pattern.sub(" ", old_text), pattern.sub(" ", new_text)
        result = diff_words(old_text, new_text, ignore_case=options.ignore_case,
                            ignore_whitespace=options.ignore_whitespace)
        return _TextDiff(result, full, why, hidden)

    if options.full is not None:
        return diff(options.full)
    main = diff(False)
    if not main.result.changed_words:
        # the full text if the rest of the page differs (before the rules, so that what
        # they hide there is counted)
        fold = str.lower if options.ignore_case else str
        if fold(_text(old, True)).split() != fold(_text(new, True)).split():
            return diff(True, OUTSIDE_MAIN)
        return main
    full = diff(True)
    if full.result.changed_words < main.result.changed_words:
        # the main text is part of the full text: a real edit to it changes the full text
        # as much, so words that changed in the main text alone are the extractor drawing
        # the main text's bounds differently in the two captures (a teaser card kept in
        # one and not the other), not a change to the page
        return _TextDiff(full.result, True, EXTRACTION_DIFFERS.format(
            main=main.result.changed_words, full=full.result.changed_words), full.hidden)
    return main


@lru_cache(maxsize=_CACHED_VERSIONS)
def _read(path: Path, offset: int, length: int, digest: str | None,
          url: str, mime: str, status: int, selectors: tuple[str, ...]
          ) -> tuple[int, tuple[tuple[str, str], ...], Extracted | None,
                     tuple[tuple[str, str], ...]]:
    # keyed by where the payload is and its digest: the same record read for another
    # capture (a revisit) or another comparison comes from here
    head, body = read_payload(path, offset, length)
    headers = tuple((k.title(), v) for k, v in head.headers)
    content_type = dict(headers).get("Content-Type") or mime
    kind, _, params = content_type.partition(";")
    kind = kind.strip().lower()
    charset = next((v.strip(" \"'") for k, _, v in (p.partition("=") for p in params.split(";"))
                    if k.strip().lower() == "charset"), None)
    dropped: list[tuple[str, str]] = []
    if selectors and kind in HTML_TYPES:
        body, dropped = _drop_elements(body, selectors)
    stated = head.get_statuscode() or ""
    status = int(stated) if stated.isdigit() and len(stated) == 3 else status
    return status, headers, extract(body, kind, url, charset), tuple(dropped)


def _differing(old: list[str], new: list[str]) -> int:
    # what a rule removed and that differs between the two sides: the changes it hid
    before, after = Counter(old), Counter(new)
    return sum(((before - after) + (after - before)).values())


def _text(version: Version, full: bool) -> str:
    if version.text is None:
        return ""
    return version.text.full_text if full else version.text.main_text


def _metadata(old: Version, new: Version) -> dict[str, Any]:
    pairs = {"status": (old.status, new.status),
             "title": (_field(old, "title"), _field(new, "title")),
             "description": (_field(old, "description"), _field(new, "description"))}
    for header in HEADERS_COMPARED:
        pairs[f"header:{header}"] = (old.headers.get(header), new.headers.get(header))
    return {name: {"from": a, "to": b} for name, (a, b) in pairs.items() if a != b}


def _field(version: Version, name: str) -> str:
    return getattr(version.text, name, "") if version.text else ""


def _side(version: Version) -> dict[str, Any]:
    side = version.capture.to_json()
    side["title"] = _field(version, "title")
    return side


def _record(capture: Capture) -> dict[str, Any]:
    return {"url": capture.url, "record_id": capture.record_id,
            "record_type": capture.record_type, "warc_file": capture.warc_file,
            "offset": capture.offset, "length": capture.length,
            "payload_file": capture.payload_file, "payload_offset": capture.payload_offset,
            "digest": capture.digest, "timestamp": capture.timestamp,
            "warc_date": iso_date(capture.warc_date, capture.timestamp)}


def _drop_elements(body: bytes, selectors: tuple[str, ...]
                   ) -> tuple[bytes, list[tuple[str, str]]]:
    """The HTML without the elements the selectors match, and the text each one held."""
    matchers = []
    for selector in selectors:
        try:
            matchers.append((selector, CSSSelector(selector)))
        except SelectorError as exc:
            raise UsageError(f"ignore rule css:{selector!r} is not a CSS selector: {exc}"
                             ) from None
    try:
        doc = lxml.html.document_fromstring(body)
    except (etree.ParserError, ValueError):
        return body, []
    dropped = []
    for selector, matcher in matchers:
        for element in matcher(doc):
            dropped.append((selector, " ".join(element.text_content().split())))
            element.drop_tree()
    return lxml.html.tostring(doc, encoding="utf-8"), dropped


def _compile(rule: str) -> re.Pattern:
    try:
        return re.compile(rule)
    except re.error as exc:
        raise UsageError(f"ignore rule {rule!r} is not a regular expression: {exc}") from None
