"""Word-level differences between two texts: the algorithm under every comparison.

Texts are compared as words (runs of non-space characters); a paragraph break belongs to the
word before it. Paragraphs are matched first, by their whole text, and words only inside the
stretches of paragraphs that differ. Both levels use patience diffing: elements that occur
exactly once on each side anchor the match (their longest increasing run), the stretches
between anchors are matched the same way, and only stretches without any such element go to
difflib. Two 100 KB pages with hundreds of small edits take milliseconds this way, where
difflib alone over all the words is quadratic (seconds on one long paragraph), and the
alignment follows distinctive words, as a reader's eye does, not "the" and "of".
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections.abc import Hashable, Iterator, Sequence
from dataclasses import dataclass, field
from difflib import SequenceMatcher

_WORDS = re.compile(r"\S+")
# a stretch without unique anchors goes to difflib's exact matcher up to this many element
# pairs (its cost grows with the product); beyond, difflib's popularity heuristic keeps it fast
_EXACT_LIMIT = 40_000

# when no single element is unique on both sides (a text of few distinct words), runs of
# this many elements are tried as anchors before difflib
_SHINGLES = (1, 4, 16)

Block = tuple[int, int, int]  # (start in a, start in b, length) of a matching run


@dataclass
class TextDiff:
    """The ops (equal, delete, insert with their text) and what they add up to."""

    ops: list[dict[str, str]] = field(default_factory=list)
    changed_words: int = 0  # words deleted plus words inserted
    total_words: int = 0  # words of both texts
    case_hidden: int = 0  # words that differ only in case, not counted as changed
    whitespace_hidden: int = 0  # paragraph breaks that moved, not counted as changed

    @property
    def ratio(self) -> float:
        """The share of the two texts' words that changed, 0.0 to 1.0."""
        return round(self.changed_words / self.total_words, 4) if self.total_words else 0.0

    @property
    def changes(self) -> int:
        """How many places changed: a deletion next to an insertion is one change."""
        return sum(1 for i, op in enumerate(self.ops) if op["op"] != "equal" and not (
            op["op"] == "insert" and i and self.ops[i - 1]["op"] == "delete"))


class _Text:
    """A text as one list of words, where each paragraph (non-empty line) ends, and the key
    each word is compared by."""

    def __init__(self, text: str, ignore_case: bool, ignore_whitespace: bool) -> None:
        self.words: list[str] = []
        self.ends: list[int] = []  # index after each paragraph's last word
        for line in text.splitlines():
            words = _WORDS.findall(line)
            if words:
                self.words += words
                self.ends.append(len(self.words))
        self.sep = [" "] * len(self.words)  # what follows each word: a space or a break
        for end in self.ends:
            self.sep[end - 1] = "\n"
        folded = [w.lower() for w in self.words] if ignore_case else self.words
        self.keys = folded if ignore_whitespace else [
            w + s for w, s in zip(folded, self.sep, strict=True)]
        # a text without words (an empty body, a page whose text was all removed) has no
        # paragraphs, and every paragraph of the other side is an insertion or a deletion
        starts = [0, *self.ends[:-1]] if self.ends else []
        self.paragraphs = [" ".join(folded[s:e]) for s, e in zip(starts, self.ends, strict=True)]
        self.starts = starts + [len(self.words)]  # word index where paragraph n starts


def diff_words(old: str, new: str, *, ignore_case: bool = False,
               ignore_whitespace: bool = True) -> TextDiff:
    """The word-level diff of two texts.

    Spacing inside a paragraph never counts. With `ignore_whitespace` (the default) a
    paragraph break that moved (a paragraph split or joined) is no change either; without it,
    the word before a moved break shows as changed. With `ignore_case`, words that differ only
    in case are equal. Either way the result counts what the option hid."""
    a = _Text(old, ignore_case, ignore_whitespace)
    b = _Text(new, ignore_case, ignore_whitespace)
    result = TextDiff(total_words=len(a.words) + len(b.words))
    for tag, i1, i2, j1, j2 in opcodes(a.paragraphs, b.paragraphs):
        # paragraphs n..m are the words starts[n]..starts[m]
        a1, a2, b1, b2 = a.starts[i1], a.starts[i2], b.starts[j1], b.starts[j2]
        if tag == "equal":
            _equal(result, a, a1, b, b1, b2 - b1)
            continue
        word_ops = opcodes(a.keys[a1:a2], b.keys[b1:b2])
        for k, (tag2, x1, x2, y1, y2) in enumerate(word_ops):
            x1, x2, y1, y2 = a1 + x1, a1 + x2, b1 + y1, b1 + y2
            # the text is shown with the newer paragraph breaks, the deleted words in their
            # old places: a break that ended the newer paragraph before words deleted from
            # the middle of the older one goes after them, and a replaced paragraph end
            # breaks once, after the replacement
            if tag2 == "equal":
                nxt = word_ops[k + 1] if k + 1 < len(word_ops) else None
                moved = nxt is not None and nxt[1] < nxt[2] and a.sep[x2 - 1] == " "
                _equal(result, a, x1, b, y1, y2 - y1, keep_break=not moved)
            else:
                twice = x1 < x2 and y1 < y2 and a.sep[x2 - 1] == b.sep[y2 - 1] == "\n"
                _emit(result, "delete", a, x1, x2, keep_break=not twice)
                _emit(result, "insert", b, y1, y2)
    return result


def paragraphs_of(ops: list[dict[str, str]]) -> list[list[dict[str, str]]]:
    """The ops cut into the paragraphs they are shown in: each a list of ops, none holding a
    paragraph break (for showing only the paragraphs that changed)."""
    found: list[list[dict[str, str]]] = [[]]
    for op in ops:
        lines = op["text"].split("\n")
        for n, line in enumerate(lines):
            if line:
                found[-1].append({"op": op["op"], "text": line})
            if n < len(lines) - 1:
                found.append([])
    return [p for p in found if p]


def opcodes(a: Sequence[Hashable], b: Sequence[Hashable]
            ) -> list[tuple[str, int, int, int, int]]:
    """difflib-style opcodes (equal, replace, delete, insert) turning `a` into `b`."""
    found, i, j = [], 0, 0
    for ai, bj, size in matching_blocks(a, b):
        if i < ai or j < bj:
            tag = "replace" if i < ai and j < bj else "delete" if i < ai else "insert"
            found.append((tag, i, ai, j, bj))
        if size:
            found.append(("equal", ai, ai + size, bj, bj + size))
        i, j = ai + size, bj + size
    return found


def matching_blocks(a: Sequence[Hashable], b: Sequence[Hashable]) -> list[Block]:
    """Runs that `a` and `b` share, in order, ending with the sentinel (len(a), len(b), 0)."""
    blocks: list[Block] = []
    stack = [(0, len(a), 0, len(b))]
    while stack:
        alo, ahi, blo, bhi = stack.pop()
        start = alo
        while alo < ahi and blo < bhi and a[alo] == b[blo]:
            alo, blo = alo + 1, blo + 1
        if alo > start:
            blocks.append((start, blo - (alo - start), alo - start))
        end = ahi
        while ahi > alo and bhi > blo and a[ahi - 1] == b[bhi - 1]:
            ahi, bhi = ahi - 1, bhi - 1
        if ahi < end:
            blocks.append((ahi, bhi, end - ahi))
        if alo == ahi or blo == bhi:
            continue
        anchors, k = [], 0
        for k in _SHINGLES:
            anchors = _unique_anchors(a, alo, ahi, b, blo, bhi, k)
            if anchors:
                break
        if not anchors:
            blocks.extend(_difflib_blocks(a, alo, ahi, b, blo, bhi))
            continue
        # anchors are k-element matches; the stretches around them are matched the same
        # way, and their common prefixes and suffixes grow the anchors into longer runs
        i, j = alo, blo
        for ai, bj in anchors:
            blocks.append((ai, bj, k))
            stack.append((i, ai, j, bj))
            i, j = ai + k, bj + k
        stack.append((i, ahi, j, bhi))
    return _merged(sorted(blocks)) + [(len(a), len(b), 0)]


def _unique_anchors(a: Sequence[Hashable], alo: int, ahi: int, b: Sequence[Hashable],
                    blo: int, bhi: int, k: int) -> list[tuple[int, int]]:
    """(i, j) of runs of `k` elements found exactly once in a[alo:ahi] and once in
    b[blo:bhi]: the longest chain of them in the same order on both sides, none overlapping."""
    def runs(seq: Sequence[Hashable], lo: int, hi: int) -> Iterator[tuple[Hashable, int]]:
        if k == 1:
            return zip(seq[lo:hi], range(lo, hi), strict=True)
        # the k-element runs starting at lo, lo+1, ...: zip builds the tuples in C
        return zip(zip(*(seq[lo + d:hi] for d in range(k)), strict=False), range(lo, hi),
                   strict=False)

    in_a: dict[Hashable, int] = {}
    for run, i in runs(a, alo, ahi):
        in_a[run] = -1 if run in in_a else i
    in_b: dict[Hashable, int] = {}
    for run, j in runs(b, blo, bhi):
        if in_a.get(run, -1) >= 0:
            in_b[run] = -1 if run in in_b else j
    pairs = sorted((in_a[run], j) for run, j in in_b.items() if j >= 0)
    chain: list[tuple[int, int]] = []
    for i, j in _longest_increasing(pairs):
        if not chain or (i >= chain[-1][0] + k and j >= chain[-1][1] + k):
            chain.append((i, j))
    return chain


def _longest_increasing(pairs: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """The longest subsequence of `pairs` (sorted by i) whose j also increase."""
    tails: list[int] = []  # tails[n]: the smallest j ending an increasing run of length n+1
    tail_at: list[int] = []  # the index in pairs of that run's end
    back: list[int] = []
    for n, (_, j) in enumerate(pairs):
        k = bisect_left(tails, j)
        if k == len(tails):
            tails.append(j)
            tail_at.append(n)
        else:
            tails[k], tail_at[k] = j, n
        back.append(tail_at[k - 1] if k else -1)
    run, n = [], tail_at[-1] if tail_at else -1
    while n >= 0:
        run.append(pairs[n])
        n = back[n]
    return run[::-1]


def _difflib_blocks(a: Sequence[Hashable], alo: int, ahi: int, b: Sequence[Hashable],
                    blo: int, bhi: int) -> list[Block]:
    exact = (ahi - alo) * (bhi - blo) <= _EXACT_LIMIT
    matcher = SequenceMatcher(None, a[alo:ahi], b[blo:bhi], autojunk=not exact)
    return [(alo + i, blo + j, size) for i, j, size in matcher.get_matching_blocks() if size]


def _merged(blocks: list[Block]) -> list[Block]:
    merged: list[Block] = []
    for i, j, size in blocks:
        if merged and merged[-1][0] + merged[-1][2] == i and merged[-1][1] + merged[-1][2] == j:
            merged[-1] = (merged[-1][0], merged[-1][1], merged[-1][2] + size)
        else:
            merged.append((i, j, size))
    return merged


def _equal(result: TextDiff, a: _Text, i: int, b: _Text, j: int, size: int,
           keep_break: bool = True) -> None:
    # equal under the options; what the options hid is counted, the newer text is shown
    same_words = a.words[i:i + size] == b.words[j:j + size]
    if not (same_words and a.sep[i:i + size] == b.sep[j:j + size]):
        for n in range(size):
            if a.words[i + n] != b.words[j + n]:
                result.case_hidden += 1
            if a.sep[i + n] != b.sep[j + n]:
                result.whitespace_hidden += 1
    _emit(result, "equal", b, j, j + size, keep_break)


def _emit(result: TextDiff, op: str, text: _Text, start: int, end: int,
          keep_break: bool = True) -> None:
    if start == end:
        return
    if op != "equal":
        result.changed_words += end - start
    joined = "".join(w + s for w, s in zip(text.words[start:end], text.sep[start:end],
                                           strict=True))
    joined = joined.rstrip(" ") if keep_break else joined.rstrip()
    ops = result.ops
    if ops and ops[-1]["op"] == op:
        ops[-1]["text"] += ("" if ops[-1]["text"].endswith("\n") else " ") + joined
    else:
        ops.append({"op": op, "text": joined})
