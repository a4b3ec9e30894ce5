"""Snippets, made the same way whatever the engine: the part of a page that shows why it
matched, the matching words marked.

A query's words are looked for as the engines index them (index.search.analysis), so a snippet
marks "negotiate" for `negotiations`; a phrase is marked only where its words stand together,
in order, so `"on behalf of"` marks the disclosure line, not every "of" on the page. Words
under NOT and `site:`/`url:` terms are not marked. The main text is shown if it holds as
many of the query's words and phrases as the full visible text (which adds menus and
footers), else the full text; with none of them (a `url:` match), the description or the
text's beginning. A snippet is data: runs of text, each marked or not (`Snippet`); the
search JSON writes it as HTML with <mark>s (`Snippet.html`), the page marks it in its
template and the CLI on the terminal.

Finding the words costs little on long pages: a page is scanned for the few letters each
wanted stem begins with, and only the words found there are stemmed.
"""

from __future__ import annotations

import html
import itertools
import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

import regex

from index.search.analysis import WORD, WORD_CHAR, lower, stem_of, stems
from index.search.query import And, Node, Not, Or, Wildcard

FRAGMENT_CHARS = 200
MAX_FRAGMENTS = 2
FALLBACK_CHARS = 240
# enough places of each wanted word or phrase to choose a fragment from
MAX_PLACES = 50
# places where a phrase's first word stands but not the phrase, before it is given up
MAX_MISSES = 1000
# a fragment's ends are moved in to a word's edge, but by no more than this (a text may have
# no spaces, as Japanese has none, or long runs of tags)
MAX_TRIM = 20
# a stem is its word cut short ("negoti" for negotiations), or with its last letter changed
# ("polici" for policy, "cri" for cry): words are looked for by the stem less its last letter
# (whole, for a stem of two letters or one: those are words as written)
_SHORT = 2

Run = tuple[str, bool]  # a stretch of text, and whether it is marked
Item = tuple[str, ...]  # a wanted term (one stem) or phrase (several)
# where one term or phrase stands: its start and end in the text, the item, and each word
Place = tuple[int, int, Item, tuple[tuple[int, int], ...]]


@dataclass(frozen=True, slots=True)
class Snippet:
    """The part of a page a result shows: runs of its text, the matching words marked;
    fragments far apart are joined by " … " (an unmarked run)."""

    runs: tuple[Run, ...]

    def text(self) -> str:
        """The snippet as plain text, without marks."""
        return "".join(text for text, _ in self.runs)

    def html(self) -> str:
        """The snippet as the search JSON gives it: the text escaped, marked words in
        <mark> (the only markup)."""
        return "".join(f"<mark>{html.escape(text, quote=False)}</mark>" if marked
                       else html.escape(text, quote=False) for text, marked in self.runs)


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

    def marks(self, text: str) -> list[tuple[int, int]]:
        """Where the words a snippet would mark stand in the whole of `text`: each word's
        start and end, in order (up to MAX_PLACES places of each term or phrase)."""
        found = self._finder.places(text) if self._finder is not None else []
        return sorted({span for _, _, _, spans in found for span in spans})

    def held(self, text: str) -> int:
        """How many of the wanted terms and phrases `text` holds."""
        return _items(self._finder.places(text)) if self._finder is not None else 0

    def snippet(self, main: str, full: str, description: str) -> Snippet:
        """The snippet of a page with these texts."""
        if self._finder is not None:
            found = self._finder.places(main)
            held = _items(found)
            if held < len(self.items):
                in_full = self._finder.places(full)
                if _items(in_full) > held:
                    main, found = full, in_full
            if found:
                return Snippet(_render(main, found))
        # (a page's beginning, not the whole page, is split into words)
        lead = " ".join((description or main or full)[:4 * FALLBACK_CHARS].split())
        return Snippet(((lead[:FALLBACK_CHARS] + ("…" if len(lead) > FALLBACK_CHARS else ""),
                         False),))


class _Finder:
    """Finds where a set of terms and phrases stand in texts."""

    def __init__(self, items: frozenset[Item]) -> None:
        # a phrase is looked for at each word of its first stem
        self.first: dict[str, list[Item]] = {}
        for item in sorted(items):
            self.first.setdefault(item[0], []).append(item)
        probes = {probe for stem in self.first for probe in _probes(stem)}
        # the probes of the phrases' words, to skip a phrase a text cannot hold
        self.phrase_probes = {stem: _probes(stem) for item in items if len(item) > 1
                              for stem in item}
        # shortest first: a probe that begins with another finds nothing more
        kept: list[str] = []
        for probe in sorted(probes, key=len):
            if not any(probe.startswith(k) for k in kept):
                kept.append(probe)
        self.probes = [re.compile(re.escape(probe)) for probe in kept]

    def places(self, text: str) -> list[Place]:
        """Where the wanted terms and phrases stand in `text` (up to MAX_PLACES of each),
        in order."""
        lowered = lower(text)
        if len(lowered) == len(text):
            # where a word begins with a probe (a literal search: ~30x faster than a
            # pattern that also asks for the word's beginning)
            starts: Iterable[int] = sorted(
                at for probe in self.probes for m in probe.finditer(lowered)
                if not (at := m.start()) or not _in_word(text[at - 1]))
        else:  # a letter's lower case is longer: offsets would shift
            starts = (m.start() for m in WORD.finditer(text))
        # a phrase some of whose words the text cannot hold is not looked for
        absent = {stem for stem, probes in self.phrase_probes.items()
                  if not any(probe in lowered for probe in probes)}
        looked_for = self.first if not absent else {
            first: kept for first, items in self.first.items()
            if (kept := [i for i in items if absent.isdisjoint(i)])}
        open_items = sum(map(len, looked_for.values()))
        words = _Words(text)
        found: list[Place] = []
        count: Counter[Item] = Counter()
        misses: Counter[Item] = Counter()
        covered: dict[Item, int] = {}  # a phrase's words marked up to here (repeats overlap)
        for at in starts:
            if not open_items:
                break
            stem = words.stem_at(at)
            for item in looked_for.get(stem, ()) if stem else ():
                if count[item] == MAX_PLACES or misses[item] == MAX_MISSES:
                    continue
                spans = [words.spans[words.index[at]]] if len(item) == 1 \
                    else words.phrase_at(at, item)
                if spans is None:
                    misses[item] += 1  # (a long phrase on a page full of its first word)
                    open_items -= misses[item] == MAX_MISSES
                    continue
                count[item] += 1
                open_items -= count[item] == MAX_PLACES
                shown = tuple(span for span in spans if span[0] >= covered.get(item, 0))
                covered[item] = spans[-1][1]
                found.append((spans[0][0], spans[-1][1], item, shown))
        return sorted(found)


class _Words:
    """The words of a text from a given place on, each stemmed once: the run of words read
    from a place a phrase was looked for at serves the places after it that it reaches (a
    phrase repeated back to back costs one pass, not one per repeat)."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.spans: list[tuple[int, int]] = []
        self.stems: list[str] = []
        self.index: dict[int, int] = {}  # a word's start -> its place in the run
        self.rest: Iterator[regex.Match[str]] | None = None

    def stem_at(self, at: int) -> str | None:
        """The term of the word that begins at `at` (None if none does)."""
        found = self.index.get(at)
        if found is not None:
            return self.stems[found]
        word = WORD.match(self.text, at)  # beyond the run: a new run from here
        if word is None:
            return None
        self.spans, self.stems, self.index = [word.span()], [stem_of(word.group())], {at: 0}
        self.rest = None
        return self.stems[0]

    def phrase_at(self, at: int, item: Item) -> list[tuple[int, int]] | None:
        """Each word's span if `item` stands at the word beginning at `at`, else None."""
        first = self.index[at]
        more = first + len(item) - len(self.stems)
        if more > 0:
            if self.rest is None:
                self.rest = WORD.finditer(self.text, self.spans[-1][1])
            self._read(more)
        if self.stems[first:first + len(item)] != list(item):
            return None
        return self.spans[first:first + len(item)]

    def _read(self, count: int) -> None:
        for word in itertools.islice(self.rest, count):
            self.index[word.start()] = len(self.spans)
            self.spans.append(word.span())
            self.stems.append(stem_of(word.group()))


def _items(places: list[Place]) -> int:
    """How many distinct items these places are of."""
    return len({item for _, _, item, _ in places})


def _probes(stem: str) -> set[str]:
    """What the words with this stem begin with, lower-cased."""
    found = {stem if len(stem) <= _SHORT else stem[:-1]}
    if len(stem) == 3 and stem.endswith("ie"):  # consonant + "ying": "vying" is "vie"
        found.add(stem[0] + "y")
    return found


def _in_word(char: str) -> bool:
    """Whether a character is part of a word (str.isalnum answers for ASCII, faster)."""
    return char.isalnum() if char.isascii() else WORD_CHAR.match(char) is not None


def _render(text: str, places: list[Place]) -> tuple[Run, ...]:
    """Up to MAX_FRAGMENTS fragments of `text` about these places, as runs with the places'
    words marked: the one with the most wanted items, then, if some stand only elsewhere,
    one for those. Runs of white space become one space; a fragment's ends are trimmed."""
    windows = [_best_window(text, places)]
    shown = {item for start, end, item, _ in places
             if windows[0][0] <= start and end <= windows[0][1]}
    missing = [place for place in places if place[2] not in shown]
    if missing:  # (MAX_FRAGMENTS: this one and the first)
        other = _best_window(text, missing)
        if other[0] <= windows[0][1] and windows[0][0] <= other[1]:  # overlapping: one
            windows = [(min(other[0], windows[0][0]), max(other[1], windows[0][1]))]
        else:
            windows.append(other)
    marks = sorted({span for _, _, _, spans in places for span in spans})
    runs: list[Run] = []
    for start, end in sorted(windows):
        if runs:
            runs.append((" … ", False))
        fragment: list[Run] = []
        at = start
        for mark_start, mark_end in marks:
            if mark_start < at or mark_end > end:
                continue
            fragment += [(text[at:mark_start], False), (text[mark_start:mark_end], True)]
            at = mark_end
        fragment.append((text[at:end], False))
        runs += _squeezed(fragment)
    return tuple(runs)


def _squeezed(fragment: list[Run]) -> list[Run]:
    """The runs with each stretch of white space one space, none at the fragment's ends,
    and no empty run (marked runs are words: they hold no white space)."""
    runs = [(text, True) if marked else (_squeeze(text), False) for text, marked in fragment]
    runs[0] = (runs[0][0].lstrip(" "), runs[0][1])
    runs[-1] = (runs[-1][0].rstrip(" "), runs[-1][1])
    return [run for run in runs if run[0]]


def _squeeze(text: str) -> str:
    """`text` with each stretch of white space (as str.split() finds it) one space."""
    words = text.split()
    if not words:
        return " " if text else ""
    return (" " if text[0].isspace() else "") + " ".join(words) + \
        (" " if text[-1].isspace() else "")


def _best_window(text: str, places: list[Place]) -> tuple[int, int]:
    """The stretch of about FRAGMENT_CHARS of `text` that holds the most distinct items of
    `places` whole (then the most places; the first such), its ends at words' edges."""
    best, best_score = (0, 0), (-1, -1)
    inside: Counter[Item] = Counter()
    first = 0
    for last, (_, end, item, _) in enumerate(places):
        inside[item] += 1
        while end - places[first][0] > FRAGMENT_CHARS and first < last:
            inside[places[first][2]] -= 1
            if not inside[places[first][2]]:
                del inside[places[first][2]]
            first += 1
        score = (len(inside), last - first)
        if score > best_score:
            best, best_score = (places[first][0], max(p[1] for p in places[first:last + 1])),\
                score
    start, end = best
    # the places about mid-fragment, the ends moved in to words' edges
    spare = max(0, FRAGMENT_CHARS - (end - start))
    start = max(0, start - spare // 2)
    end = min(len(text), end + spare - (best[0] - start))
    limit = start + MAX_TRIM
    while 0 < start < min(best[0], limit) and _in_word(text[start - 1]):
        start += 1
    limit = end - MAX_TRIM
    while max(best[1], limit) < end < len(text) and _in_word(text[end]):
        end -= 1
    return start, end
