"""Documents an engine matched, with their titles and snippets: made here, above the engines,
from what they store (`TextIndex.stored`) and the words a query's wildcards stand for in
them (`TextIndex.wildcard_terms`), the same way whatever the engine."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from index.search.engine import TextIndex, text_key_of
from index.search.query import TextQuery
from index.search.query_cost import Budget
from index.search.snippets import Snippet, Wanted


@dataclass(frozen=True)
class TextHit:
    """A document that matched: its key, the engine's score, its title and snippet."""

    text_key: str
    score: float
    title: str
    snippet: Snippet


def describe(engine: TextIndex, query: TextQuery, text_keys: Sequence[str],
             budget: Budget | None = None) -> dict[str, TextHit]:
    """Title and snippet of those of these documents the engine holds, for this query
    (score 0). QueryTooCostly if the budget's deadline passes first."""
    budget = Budget() if budget is None else budget
    wanted = Wanted.of(query.root, engine.wildcard_terms)
    described = {}
    for key, stored in engine.stored(text_keys, budget).items():
        budget.check("making snippets")
        described[key] = TextHit(key, 0.0, stored.title, wanted.snippet(
            stored.main_text, stored.full_text, stored.description))
    return described


def best_hits(engine: TextIndex, query: TextQuery, limit: int | None = 10) -> list[TextHit]:
    """The engine's best `limit` matches (all if None), best first, with titles and
    snippets, within one query_cost.Budget."""
    budget = Budget()
    scores = {text_key_of(n): s for n, s in engine.match(query, budget).by_number().items()}
    best = sorted(scores, key=lambda k: (-scores[k], k))[:limit]
    described = describe(engine, query, best, budget)
    return [TextHit(k, scores[k], described[k].title, described[k].snippet)
            for k in best if k in described]
