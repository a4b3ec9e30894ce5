"""Comparing two captures of a URL: what the text says differently, which links came and went,
what changed in title, status, description and headers, with a receipt to cite.

Always computed from the WARC payloads (never from replay HTML). Noise rules (regular
expressions from the network config) blank out known noise such as dates and counters before
the comparison, and the result says which rules ran and how many differences they hid.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from difflib import SequenceMatcher
from typing import Any

import lxml.html
from cssselect import SelectorError
from lxml import etree
from lxml.cssselect import CSSSelector

from index import __version__
from index.catalog import Capture, Catalog, iso_date
from index.collection import Collection
from index.config import NetworkConfig
from index.errors import CaptureNotFound, UsageError
from index.extract import Extracted, extract
from index.warc_reader import read_payload

# an ignore rule starting with this is a CSS selector (elements removed before extraction);
# any other rule is a regular expression (matches blanked in the extracted text)
CSS_PREFIX = "css:"
HEADERS_COMPARED = ("Content-Type", "Content-Language", "Last-Modified", "Location",
                    "X-Robots-Tag", "Link")
_WORDS = re.compile(r"\S+")


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
    # diff the full visible text, not the main text; None: the main text, unless only text
    # outside it (menus, footers: a dropped disclosure line) changed
    full: bool | None = None
    ignore_case: bool = False
    rules: tuple[str, ...] = ()  # regular expressions whose matches are noise


def load_version(collection: Collection, capture: Capture, selectors: tuple[str, ...] = ()
                 ) -> Version:
    """Read and extract one capture's payload from the WARC record holding it, first removing
    the HTML elements that the CSS `selectors` (noise rules) match."""
    if not capture.has_payload:
        raise CaptureNotFound(f"the payload of {capture.url} at {capture.timestamp} is not in "
                              "the collection")
    head, body = read_payload(collection.inside(capture.payload_file), capture.payload_offset,
                              capture.payload_length)
    headers = {k.title(): v for k, v in head.headers}
    mime = (headers.get("Content-Type") or capture.mime or "").split(";")[0].strip().lower()
    status = int(head.get_statuscode() or capture.status or 0)
    dropped: list[tuple[str, str]] = []
    if selectors and mime in ("text/html", "application/xhtml+xml"):
        body, dropped = _drop_elements(body, selectors)
    return Version(capture, status, headers, extract(body, mime, capture.url), tuple(dropped))


def rules_for(config: NetworkConfig | None, url: str) -> tuple[str, ...]:
    """The noise rules that apply to `url`: the network's and its site's."""
    if config is None:
        return ()
    from urllib.parse import urlsplit

    site = config.site_for_host(urlsplit(url).hostname or "")
    return tuple(config.ignore) + (site.ignore if site else ())


def compare(collection: Collection, a: Capture, b: Capture, options: Options = Options()
            ) -> dict[str, Any]:
    """The diff JSON object of DESIGN.md for captures `a` (older) and `b` (newer)."""
    selectors = tuple(r.removeprefix(CSS_PREFIX) for r in options.rules
                      if r.startswith(CSS_PREFIX))
    old, new = load_version(collection, a, selectors), load_version(collection, b, selectors)
    full = options.full
    if full is None:
        full = _text(old, False) == _text(new, False) and _text(old, True) != _text(new, True)
    old_text, new_text = _text(old, full), _text(new, full)
    hidden: Counter[str] = Counter()
    for selector in selectors:
        gone_old = Counter(t for s, t in old.dropped if s == selector)
        gone_new = Counter(t for s, t in new.dropped if s == selector)
        hidden[CSS_PREFIX + selector] = sum(((gone_old - gone_new) +
                                             (gone_new - gone_old)).values())
    for rule in options.rules:
        if rule.startswith(CSS_PREFIX):
            continue
        pattern = _compile(rule)
        found_old, found_new = Counter(pattern.findall(old_text)), Counter(
            pattern.findall(new_text))
        hidden[rule] = sum(((found_old - found_new) + (found_new - found_old)).values())
        old_text, new_text = pattern.sub(" ", old_text), pattern.sub(" ", new_text)
    ops = diff_words(old_text, new_text, ignore_case=options.ignore_case)
    changed = sum(len(op["text"].split()) for op in ops if op["op"] != "equal")
    total = len(old_text.split()) + len(new_text.split())
    old_links = set(old.text.outlinks if old.text else ())
    new_links = set(new.text.outlinks if new.text else ())
    return {
        "url": b.url,
        "from": _side(old), "to": _side(new),
        "ratio": round(changed / total, 4) if total else 0.0,
        "text": ops,
        "links": {"added": sorted(new_links - old_links),
                  "removed": sorted(old_links - new_links)},
        "metadata": _metadata(old, new),
        "rules": [{"rule": rule, "hidden": hidden[rule]} for rule in options.rules],
        "options": {"text": "full" if full else "main", "ignore_case": options.ignore_case,
                    "ignore_whitespace": True},
        "receipt": receipt(old, new, options, full),
    }


def diff_words(old: str, new: str, *, ignore_case: bool = False) -> list[dict[str, str]]:
    """Word-level diff ops (equal, delete, insert) of two texts, whitespace ignored.

    Paragraphs are matched first and words only inside paragraphs that differ, which keeps
    two 100 KB pages with many small edits to milliseconds (a word-level SequenceMatcher over
    the whole text is quadratic in the worst case)."""
    old_paras, new_paras = _paragraphs(old), _paragraphs(new)
    key = str.lower if ignore_case else (lambda s: s)
    ops: list[dict[str, str]] = []
    matcher = SequenceMatcher(None, [key(" ".join(p)) for p in old_paras],
                              [key(" ".join(p)) for p in new_paras], autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            _emit(ops, "equal", [w for p in old_paras[i1:i2] for w in p + ["\n"]])
            continue
        old_words = [w for p in old_paras[i1:i2] for w in p + ["\n"]]
        new_words = [w for p in new_paras[j1:j2] for w in p + ["\n"]]
        inner = SequenceMatcher(None, [key(w) for w in old_words], [key(w) for w in new_words],
                                autojunk=False)
        for tag2, a1, a2, b1, b2 in inner.get_opcodes():
            if tag2 == "equal":
                _emit(ops, "equal", new_words[b1:b2])
            else:
                _emit(ops, "delete", old_words[a1:a2])
                _emit(ops, "insert", new_words[b1:b2])
    return ops


def receipt(old: Version, new: Version, options: Options, full: bool) -> dict[str, Any]:
    """What is needed to re-run this comparison as evidence, and its permanent URL."""
    a, b = old.capture, new.capture
    return {
        "software": f"Palimpsest/{__version__}",
        "permalink": f"/diff/{a.timestamp}/{b.timestamp}/{b.url}",
        "from": _record(a), "to": _record(b),
        "rules": list(options.rules), "text": "full" if full else "main",
        "ignore_case": options.ignore_case,
    }


def default_pair(catalog: Catalog, url: str, from_ts: str | None, to_ts: str | None
                 ) -> tuple[Capture, Capture]:
    """The two captures to compare: those asked for, else the last two whose payloads differ."""
    captures = [c for c in catalog.captures(url) if c.has_payload]
    if not captures:
        raise CaptureNotFound(f"no capture of {url}")
    if from_ts or to_ts:
        a = catalog.nearest(url, from_ts) if from_ts else None
        b = catalog.nearest(url, to_ts) if to_ts else captures[-1]
        if a is None or b is None:
            raise CaptureNotFound(f"no capture of {url} near the times given")
        return (a, b) if a.timestamp <= b.timestamp else (b, a)
    newest = captures[-1]
    for older in reversed(captures[:-1]):
        if older.digest != newest.digest:
            return older, newest
    raise UsageError(f"{url} has {len(captures)} capture(s) and no two differ: nothing to "
                     "compare")


def _text(version: Version, full: bool) -> str:
    if version.text is None:
        return ""
    return version.text.full_text if full else version.text.main_text


def _paragraphs(text: str) -> list[list[str]]:
    return [words for line in text.splitlines() if (words := _WORDS.findall(line))]


def _emit(ops: list[dict[str, str]], op: str, words: list[str]) -> None:
    if not words:
        return
    text = " ".join(words).replace(" \n ", "\n").replace(" \n", "\n")
    if ops and ops[-1]["op"] == op:
        ops[-1]["text"] += ("" if ops[-1]["text"].endswith("\n") else " ") + text
    else:
        ops.append({"op": op, "text": text})


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
    return {"record_id": capture.record_id, "warc_file": capture.warc_file,
            "offset": capture.offset, "length": capture.length,
            "payload_file": capture.payload_file, "payload_offset": capture.payload_offset,
            "digest": capture.digest, "timestamp": capture.timestamp,
            "warc_date": iso_date(capture.warc_date, capture.timestamp)}


def _drop_elements(body: bytes, selectors: tuple[str, ...]
                   ) -> tuple[bytes, list[tuple[str, str]]]:
    """The HTML without the elements the selectors match, and the text each one held."""
    try:
        doc = lxml.html.document_fromstring(body)
    except (etree.ParserError, ValueError):
        return body, []
    dropped = []
    for selector in selectors:
        try:
            matcher = CSSSelector(selector)
        except SelectorError as exc:
            raise UsageError(f"ignore rule css:{selector!r} is not a CSS selector: {exc}"
                             ) from None
        for element in matcher(doc):
            dropped.append((selector, " ".join(element.text_content().split())))
            element.drop_tree()
    return lxml.html.tostring(doc, encoding="utf-8"), dropped


def _compile(rule: str) -> re.Pattern:
    try:
        return re.compile(rule)
    except re.error as exc:
        raise UsageError(f"ignore rule {rule!r} is not a regular expression: {exc}") from None
