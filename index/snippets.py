"""Snippets, made the same way whatever the engine: the part of a page that shows why it
matched, the matching words marked.

A query's words are looked for as the engines index them (index.analysis), so a snippet
marks "negotiate" for `negotiations`; a phrase is marked only where its words stand together,
in order, so `"on behalf of"` marks the disclosure line, not every "of" on the page. Words
under NOT and `site:`/`url:` terms are not marked. The main text is shown if it holds as
many of the query's words and phrases as the full visible text (which adds menus and
footers), else the full text; with none of them (a `url:` match), the description or the
text's beginning. Everything from the page is escaped: only our <mark> tags are markup.

Finding the words costs little on long pages: a page is scanned for the few letters each
wanted stem begins with, and only the words found there are stemmed.
"""

from __future__ import annotations

import html
import re
from collections import Counter
from collections.abc import Callable, Iterable

from index.analysis import WORD, stem_of, stemmed_words, stems
from index.fulltext import And, Node, Not, Or, Wildcard

FRAGMENT_CHARS = 200
MAX_FRAGMENTS = 2
FALLBACK_CHARS = 240
# a stem is its word cut short ("negoti" for negotiations), or with its last letter changed
# ("polici" for policy, "cri" for cry): words are looked for by the stem less its last letter
# (whole, for a stem of two letters or one: those are words as written)
_SHORT = 2
# Snowball English's exceptional words whose stem does not begin like them
_EXCEPTIONS = {"die": "dy", "lie": "ly", "tie": "ty"}  # dying, lying, tying

Item = tuple[str, ...]  # a wanted term (one stem) or phrase (several)
Hit = tuple[int, int, Item]  # where a word of an item stands in the text, and the item


class Wanted:
    """What a query's snippets look for: terms and phrases, as tuples of stems."""

    def __init__(self, items: Iterable[Item]) -> None:
        self.items = frozenset(items)
        self._finder = _Finder(self.items) if self.items else None

    @classmethod
    def of(cls, root: Node, expand: Callable[[Wildcard], Iterable[str]]) -> Wanted:
        """The marked words of a query: every term and phrase in the text or the title, not
        under NOT; a wildcard as the indexed words `expand` gives for it."""
        items: set[Item] = set()

        def walk(node: Node) -> None:
            if isinstance(node, And | Or):
                for child in node.children:
                    walk(child)
            elif isinstance(node, Wildcard):
                if node.field in (None, "title"):
                    items.update((term,) for term in expand(node))
            elif not isinstance(node, Not) and node.field in (None, "title"):
                found = tuple(stems(node.text))
                if found:
                    items.add(found)

        walk(root)
        return cls(items)

    def html(self, main: str, full: str, description: str) -> str:
        """The snippet of a page with these texts, as HTML."""
        if self._finder is not None:
            found = self._finder.hits(main)
            if len({item for _, _, item in found}) < len(self.items):
                in_full = self._finder.hits(full)
                if len({i for _, _, i in in_full}) > len({i for _, _, i in found}):
                    main, found = full, in_full
            if found:
                return _render(main, found)
        lead = " ".join((description or main or full).split())
        return html.escape(lead[:FALLBACK_CHARS], quote=False) + \
            ("…" if len(lead) > FALLBACK_CHARS else "")


class _Finder:
    """Finds where a set of terms and phrases stand in texts."""

    def __init__(self, items: frozenset[Item]) -> None:
        self.items = items
        # a phrase is looked for at each word of its first stem
        self.first: dict[str, list[Item]] = {}
        for item in sorted(items):
            self.first.setdefault(item[0], []).append(item)
        self.longest = max(map(len, items))
        probes = {s if len(s) <= _SHORT else s[:-1] for s in self.first}
        probes.update(_EXCEPTIONS[s] for s in self.first if s in _EXCEPTIONS)
        # shortest first: a probe that begins with another finds nothing more
        kept: list[str] = []
        for probe in sorted(probes, key=len):
            if not any(probe.startswith(k) for k in kept):
                kept.append(probe)
        self.probes = [re.compile(re.escape(probe)) for probe in kept]

    def hits(self, text: str) -> list[Hit]:
        """Every word of a wanted term or phrase in `text`, in order."""
        lower = text.lower()
        if len(lower) == len(text):
            # where a word begins with a probe (a literal search: ~30x faster than a
            # pattern that also asks for the word's beginning)
            starts: Iterable[int] = sorted(
                at for probe in self.probes for m in probe.finditer(lower)
                if not (at := m.start()) or not lower[at - 1].isalnum())
        else:  # a letter's lower case may be longer: offsets would shift
            starts = (m.start() for m in WORD.finditer(text))
        found: list[Hit] = []
        done = 0  # where the last word looked at ends
        for at in starts:
            if at < done:
                continue
            word = WORD.match(text, at)
            if word is None:
                continue
            done = word.end()
            following = None
            for item in self.first.get(stem_of(word.group()), ()):
                if len(item) == 1:
                    found.append((at, done, item))
                    continue
                if following is None:
                    following = _following(text, done, self.longest - 1)
                rest = following[:len(item) - 1]
                if tuple(s for _, _, s in rest) == item[1:]:
                    found.append((at, done, item))
                    found.extend((start, end, item) for start, end, _ in rest)
        return sorted(set(found))


def _following(text: str, start: int, count: int) -> list[tuple[int, int, str]]:
    """The next `count` words of `text` from `start` on, with their terms."""
    words = []
    for word in stemmed_words(text, start):
        words.append(word)
        if len(words) == count:
            break
    return words


def _render(text: str, hits: list[Hit]) -> str:
    """Up to MAX_FRAGMENTS fragments of `text` about its hits, as HTML with <mark>s: the one
    with the most wanted items, then, if some are found only elsewhere, one for those."""
    windows = [_best_window(text, hits)]
    shown = {item for start, end, item in hits if windows[0][0] <= start and end <= windows[0][1]}
    missing = [hit for hit in hits if hit[2] not in shown]
    if missing:  # (MAX_FRAGMENTS: this one and the first)
        other = _best_window(text, missing)
        if other[0] <= windows[0][1] and windows[0][0] <= other[1]:  # overlapping: one
            windows = [(min(other[0], windows[0][0]), max(other[1], windows[0][1]))]
        else:
            windows.append(other)
    parts = []
    for start, end in sorted(windows):
        out, at = [], start
        for hit_start, hit_end, _ in hits:
            if hit_start < at or hit_end > end:
                continue
            out.append(html.escape(text[at:hit_start], quote=False))
            out.append("<mark>" + html.escape(text[hit_start:hit_end], quote=False) + "</mark>")
            at = hit_end
        out.append(html.escape(text[at:end], quote=False))
        parts.append(" ".join("".join(out).split()))
    return " … ".join(parts)


def _best_window(text: str, hits: list[Hit]) -> tuple[int, int]:
    """The stretch of about FRAGMENT_CHARS of `text` that holds the most distinct items of
    `hits` (then the most hits; the first such), widened to whole words."""
    best, best_score = (0, 0), (-1, -1)
    inside: Counter[Item] = Counter()
    first = 0
    for last, (_, end, item) in enumerate(hits):
        inside[item] += 1
        while end - hits[first][0] > FRAGMENT_CHARS and first < last:
            inside[hits[first][2]] -= 1
            if not inside[hits[first][2]]:
                del inside[hits[first][2]]
            first += 1
        score = (len(inside), last - first)
        if score > best_score:
            best, best_score = (hits[first][0], end), score
    start, end = best
    # the hits about mid-fragment, the ends trimmed to whole words
    spare = max(0, FRAGMENT_CHARS - (end - start))
    start = max(0, start - spare // 2)
    end = min(len(text), end + spare - (best[0] - start))
    while 0 < start < best[0] and not text[start - 1].isspace():
        start += 1
    while best[1] < end < len(text) and not text[end].isspace():
        end -= 1
    return start, end
