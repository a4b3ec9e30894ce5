"""Comparing two captures of a URL: what the text says differently, which links came and went,
what changed in title, status, description and headers, with a receipt to cite.

Always computed from the WARC payloads (never from replay HTML), as versions.py reads them.
Noise rules from the network config remove known noise before the comparison: a rule starting
with `css:` is a CSS selector whose elements are dropped from the HTML, any other rule a
regular expression whose matches are blanked in the text. The result says which rules ran and
how many differences each hid. The word-level algorithm itself is in textdiff.py, the receipt
in receipt.py; `diff_text` is the plain text `palimpsest diff` prints.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from typing import Any

from index.catalog import Capture, Catalog
from index.collection import Collection
from index.compare.receipt import receipt
from index.compare.terminal import deleted, inserted
from index.compare.textdiff import TextDiff, diff_words, paragraphs_of
from index.compare.versions import Version, load_version
from index.config import NetworkConfig
from index.errors import CaptureNotFound, UsageError

CSS_PREFIX = "css:"
HEADERS_COMPARED = ("Content-Type", "Content-Language", "Last-Modified", "Location",
                    "X-Robots-Tag", "Link")
# why a comparison of the full text was chosen over that of the main text
OUTSIDE_MAIN = "only text outside the main text changed"
EXTRACTION_DIFFERS = ("the main text's diff counts {main} changed words, the full text's "
                      "{full}: the main text was extracted differently from the two captures, "
                      "so the full text is compared")
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
    def text(self) -> str | None:
        """The text asked for: "full", "main", or None (the comparison chooses)."""
        return None if self.full is None else "full" if self.full else "main"

    @property
    def selectors(self) -> tuple[str, ...]:
        return tuple(r.removeprefix(CSS_PREFIX) for r in self.rules if r.startswith(CSS_PREFIX))


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
        "receipt": receipt(a, b, rules=options.rules, text=options.text, full=full,
                           ignore_case=options.ignore_case,
                           ignore_whitespace=options.ignore_whitespace),
    }


def change_ratio(collection: Collection, a: Capture, b: Capture,
                 rules: tuple[str, ...] = ()) -> float:
    """The share of text that changed from `a` to `b` (the figure the diff page shows), for
    timelines and reports: 0.0 at no cost when the payload digests agree, else the two
    payloads' texts are compared (each payload read once per process)."""
    if a.text_digest and a.text_digest == b.text_digest:
        return 0.0
    options = Options(rules=rules)
    old = load_version(collection, a, options.selectors)
    new = load_version(collection, b, options.selectors)
    return _text_diff(old, new, options).result.ratio


def diff_text(diff: dict[str, Any], colour: bool = False) -> str:
    """The plain-text form of a diff object (what `palimpsest diff` prints): the two captures,
    how much changed, metadata, noise rules, links, the paragraphs that changed (whole, the
    words deleted and inserted marked `[-...-]` and `{+...+}`, or in colour), the receipt."""
    old, new, receipt_ = diff["from"], diff["to"], diff["receipt"]
    lines = [f"{diff['url']}\n  from {old['timestamp']} (crawl {old['crawl']})\n"
             f"  to   {new['timestamp']} (crawl {new['crawl']})\n"
             f"  {100 * diff['ratio']:.1f}% of the {diff['options']['text']} text changed, "
             f"in {diff['changes']} place(s)"]
    lines += [f"  {name}: {change['from']!r} -> {change['to']!r}"
              for name, change in diff["metadata"].items()]
    lines += [f"  noise rule {rule['rule']!r} hid {rule['hidden']} change(s)"
              for rule in diff["rules"]]
    lines += [f"  link {sign} {link}" for kind, sign in (("removed", "-"), ("added", "+"))
              for link in diff["links"][kind]]
    lines += _changed_paragraphs(diff["text"], colour)
    lines.append(f"\nreceipt: {receipt_['permalink']}\n  {receipt_['from']['record_id']} "
                 f"{receipt_['from']['digest']}\n  {receipt_['to']['record_id']} "
                 f"{receipt_['to']['digest']}\n  re-run: {receipt_['command']}")
    return "\n".join(lines)


def _changed_paragraphs(ops: list[dict[str, str]], colour: bool) -> list[str]:
    """The paragraphs that changed, whole, each after a blank line, with a mark where
    unchanged ones are left out."""
    lines, last_shown = [], -1
    for n, paragraph in enumerate(paragraphs_of(ops)):
        if all(op["op"] == "equal" for op in paragraph):
            continue
        lines.append("\n  ..." if last_shown >= 0 and n > last_shown + 1 else "")
        last_shown = n
        lines.append(" ".join(_marked(op, colour) for op in paragraph))
    return lines


def _marked(op: dict[str, str], colour: bool) -> str:
    if op["op"] == "equal":
        return op["text"]
    if colour:
        return deleted(op["text"]) if op["op"] == "delete" else inserted(op["text"])
    return f"[-{op['text']}-]" if op["op"] == "delete" else f"{{+{op['text']}+}}"


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
                      and c.text_digest != b.text_digest), None)
        if a is None or b is None:
            raise CaptureNotFound(f"no capture of {url} to compare near the times given")
        if a.id == b.id:
            raise UsageError(f"--from and --to both name the capture of {url} at "
                             f"{a.timestamp}: give two different times")
        return (a, b) if (a.timestamp, a.id) <= (b.timestamp, b.id) else (b, a)
    newest = captures[-1]
    for older in reversed(captures[:-1]):
        if older.text_digest != newest.text_digest:
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
        old_text, new_text = old.words(full), new.words(full)
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
        if fold(old.words(True)).split() != fold(new.words(True)).split():
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


def _differing(old: list[str], new: list[str]) -> int:
    # what a rule removed and that differs between the two sides: the changes it hid
    before, after = Counter(old), Counter(new)
    return sum(((before - after) + (after - before)).values())


def _metadata(old: Version, new: Version) -> dict[str, Any]:
    pairs = {"status": (old.status, new.status),
             "title": (old.field("title"), new.field("title")),
             "description": (old.field("description"), new.field("description"))}
    for header in HEADERS_COMPARED:
        pairs[f"header:{header}"] = (old.headers.get(header), new.headers.get(header))
    return {name: {"from": a, "to": b} for name, (a, b) in pairs.items() if a != b}


def _side(version: Version) -> dict[str, Any]:
    side = version.capture.to_json()
    side["title"] = version.field("title")
    return side


def _compile(rule: str) -> re.Pattern:
    try:
        return re.compile(rule)
    except re.error as exc:
        raise UsageError(f"ignore rule {rule!r} is not a regular expression: {exc}") from None
