"""The engine interface: what every full-text engine does, and the records that cross it.

An engine (`TextIndex`) only stores `TextDoc`s and answers which documents match a query
(`Matches`), how well, and what they hold (`StoredText`, for snippets, which are made above
the engines, in index.search.snippets). Capture dates, sites, collapsing by URL, "as of" and
facets are worked out from the catalog by index.search.service, once for every engine.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import repeat
from operator import lshift, or_

import numpy as np

from index.search.query import TextQuery
from index.search.query_cost import Budget


@dataclass(frozen=True)
class TextDoc:
    """One distinct text of one URL: what every capture with that text shares."""

    text_key: str
    url: str
    site: str | None
    title: str
    main_text: str
    full_text: str
    description: str = ""
    language: str | None = None
    published: datetime | None = None


def text_number(text_key: str) -> int:
    """The number of a text: its key's 96 bits (numbers hash and compare faster)."""
    return int(text_key, 16)


def text_key_of(number: int) -> str:
    """The text key (24 hex digits) of a text number."""
    return f"{number:024x}"


@dataclass(frozen=True, slots=True)
class Matches:
    """Every document a query matched, in no particular order, as numpy columns: the text
    number's high 64 and low 32 bits, and the score (higher is better). A query can match
    every page of a large archive: columns cross from Rust to Python, and are counted by
    index.search.service, without a Python object per match."""

    high: np.ndarray  # uint64
    low: np.ndarray  # uint64
    scores: np.ndarray  # float64

    @classmethod
    def of(cls, high: Sequence[int], low: Sequence[int], scores: Sequence[float]) -> Matches:
        return cls(np.array(high, np.uint64), np.array(low, np.uint64),
                   np.array(scores, np.float64))

    @classmethod
    def of_keys(cls, keys: Sequence[str], scores: Sequence[float]) -> Matches:
        return cls.of([int(k[:16], 16) for k in keys], [int(k[16:], 16) for k in keys],
                      scores)

    def __len__(self) -> int:
        return len(self.scores)

    def numbers(self) -> list[int]:
        return list(map(or_, map(lshift, self.high.tolist(), repeat(32)), self.low.tolist()))

    def by_number(self) -> dict[int, float]:
        return dict(zip(self.numbers(), self.scores.tolist(), strict=True))


NO_MATCHES = Matches.of([], [], [])


@dataclass(frozen=True)
class TextHit:
    """A document that matched: its key, the engine's score, and an HTML snippet in which
    only our <mark> tags are markup (everything from the page is escaped)."""

    text_key: str
    score: float
    snippet_html: str = ""
    title: str = ""


# -- the engine interface ------------------------------------------------------------------


class TextIndex(ABC):
    """What every full-text engine does. Writes go to an open batch that `commit()` makes
    durable and visible; `close()` without a commit drops the batch."""

    @abstractmethod
    def add(self, doc: TextDoc) -> None:
        """Add `doc` to the current batch (a key already present is the same text: skipped)."""

    @abstractmethod
    def has(self, text_key: str) -> bool:
        """Whether a document with this key is in the index or the current batch."""

    @abstractmethod
    def commit(self) -> None:
        """Make the current batch durable and searchable."""

    @abstractmethod
    def match(self, query: TextQuery, budget: Budget | None = None) -> Matches:
        """Every matching document's number and score, without snippets. QueryTooCostly
        if the search spends more than `budget` (default: a new query_cost.Budget)."""

    @abstractmethod
    def describe(self, query: TextQuery, text_keys: Sequence[str],
                 budget: Budget | None = None) -> dict[str, TextHit]:
        """Title and highlighted snippet of these documents for this query (score 0).
        QueryTooCostly if the budget's deadline passes first."""

    @abstractmethod
    def count(self) -> int:
        """How many documents the index holds (committed)."""

    @abstractmethod
    def close(self) -> None:
        """Release files and locks; an uncommitted batch is dropped."""

    def search(self, query: TextQuery, limit: int | None = 10) -> list[TextHit]:
        """The best `limit` matches (all if None), best first, with titles and snippets,
        within one query_cost.Budget."""
        budget = Budget()
        scores = {text_key_of(n): s for n, s in self.match(query, budget).by_number().items()}
        best = sorted(scores, key=lambda k: (-scores[k], k))[:limit]
        described = self.describe(query, best, budget)
        return [TextHit(k, scores[k], described[k].snippet_html, described[k].title)
                for k in best if k in described]

    def __enter__(self) -> TextIndex:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
