"""The engine interface: what every full-text engine does, and the records that cross it.

An engine (`TextIndex`) only stores `TextDoc`s and answers which documents match a query
(`Matches`), how well, what they hold (`StoredText`) and which indexed words a wildcard
stands for: snippets are made above the engines (index.search.hits). Capture dates, sites,
collapsing by URL, "as of" and facets are worked out from the catalog by
index.search.service, once for every engine.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import repeat
from operator import lshift, or_

import numpy as np

from index.search.query import TextQuery, Wildcard
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


@dataclass(frozen=True, slots=True)
class StoredText:
    """What an engine keeps of one document for its snippet: the title, the main text, the
    full visible text and the description, as they were added."""

    title: str
    main_text: str
    full_text: str
    description: str


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
    def stored(self, text_keys: Sequence[str], budget: Budget | None = None
               ) -> dict[str, StoredText]:
        """The stored texts of those of these documents the index holds. QueryTooCostly if
        the budget's deadline passes first."""

    @abstractmethod
    def wildcard_terms(self, wildcard: Wildcard) -> list[str]:
        """The indexed words of the text that `wildcard` stands for (see
        query.expand_wildcard): what a snippet marks for it."""

    @abstractmethod
    def count(self) -> int:
        """How many documents the index holds (committed)."""

    @abstractmethod
    def close(self) -> None:
        """Release files and locks; an uncommitted batch is dropped."""

    def __enter__(self) -> TextIndex:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
