"""Each change of a text diff as a short excerpt: the words deleted and inserted there, with a
few unchanged words either side. The diff page's "changes only" view shows them all; the change
report, its JSON and `palimpsest changes` show the first few of each changed page.
"""

from __future__ import annotations

from typing import Any

CONTEXT_WORDS = 12  # words of unchanged text shown either side of a change


def excerpts(ops: list[dict[str, Any]], context: int = CONTEXT_WORDS,
             longest: int | None = None) -> list[dict[str, Any]]:
    """Each change in `ops` (the diff's `text`: equal, delete and insert ops, in order), numbered
    from 1 as the diff page numbers them (a deletion and the insertion right after it are one
    change): `n`, `before` and `after` (up to `context` unchanged words), `deleted`, `inserted`.
    With `longest`, deleted and inserted text longer than that many words is cut to them and
    ends in "…", and their paragraph breaks become spaces."""
    found: list[dict[str, Any]] = []
    for i, op in enumerate(ops):
        if op["op"] == "equal" or (op["op"] == "insert" and i and ops[i - 1]["op"] == "delete"):
            continue
        nxt = ops[i + 1] if i + 1 < len(ops) else None
        deleted = op["text"] if op["op"] == "delete" else ""
        inserted = op["text"] if op["op"] == "insert" else (
            nxt["text"] if nxt and nxt["op"] == "insert" else "")
        last = i + (1 if deleted and inserted else 0)
        before = _unchanged(ops, i - 1).split()
        after = _unchanged(ops, last + 1).split()
        found.append({"n": len(found) + 1,
                      "before": " ".join(before[max(0, len(before) - context):]),
                      "deleted": _cut(deleted, longest), "inserted": _cut(inserted, longest),
                      "after": " ".join(after[:context])})
    return found


def _unchanged(ops: list[dict[str, Any]], i: int) -> str:
    """The text of op `i` if it is an unchanged one, else nothing."""
    return ops[i]["text"] if 0 <= i < len(ops) and ops[i]["op"] == "equal" else ""


def _cut(text: str, longest: int | None) -> str:
    if longest is None:
        return text
    words = text.split()
    return " ".join(words[:longest]) + (" …" if len(words) > longest else "")
