"""What one search may cost, whatever the engine: how many terms it looks up, how long it runs.

A query's size is capped as it is parsed (index.search.query: its length, its terms, the letters
before a wildcard's *, the words one wildcard may stand for). A `Budget` bounds one search:

- the term lookups the engine is given, every word a wildcard stands for in every field it is
  looked up in: Whoosh builds a matcher per term and index segment, a tenth of a millisecond
  each whatever the term matches (19 OR'ed two-letter wildcards were 5,300 lookups and 2.5 s
  at 3,000 pages);
- the time: few terms can still cost much (`the OR of OR and`: every page, and Whoosh scores
  each posting in Python), so the engines read a deadline as they collect matches (Whoosh
  every 64 matching documents) and between their steps, and snippets at every page. The deadline
  is in CPU time of the searching thread (what the query costs, the same on a busy machine as
  on an idle one: a search that fits on one fits on the other), with a wall-clock cap
  WALL_TIMES as long for a search that waits (a slow disk, a machine out of CPU).

Past the deadline a search fails with QueryTooCostly; it never answers with the matches found
so far. Engines collect matches in the order of their segments, not best first: part of them
would give neither the true count nor the best results, only something that looks like both.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from index.errors import QueryTooCostly

SECONDS = 1.0  # of the searching thread's CPU
WALL_TIMES = 5  # the wall-clock cap, in SECONDS
MAX_CLAUSES = 2000
NARROW = "narrow it: fewer OR'ed words and wildcards, more letters before a wildcard's *"


class Budget:
    """What one search may still spend: term lookups (`spend`) and time (`check`), from the
    moment it is made: `seconds` on `clock` (the CPU time of the thread that made it; a test
    may give its own clock), and WALL_TIMES as many seconds of wall-clock time."""

    def __init__(self, seconds: float = SECONDS, clauses: int = MAX_CLAUSES,
                 clock: Callable[[], float] = time.thread_time) -> None:
        self.seconds = seconds
        self.clauses = clauses
        self._spent = 0
        self._clock = clock
        self._end = clock() + seconds
        self._wall_end = time.monotonic() + WALL_TIMES * seconds

    def spend(self, clauses: int) -> None:
        """Count `clauses` more term or phrase lookups; QueryTooCostly past the cap."""
        self._spent += clauses
        if self._spent > self.clauses:
            raise QueryTooCostly(f"query too costly: its words and wildcards stand for more "
                                 f"than {self.clauses:,} terms to look up; {NARROW}")

    def expired(self) -> bool:
        """Whether the deadline (of CPU time, or the wall-clock cap) has passed."""
        return self._clock() >= self._end or time.monotonic() >= self._wall_end

    def check(self, doing: str) -> None:
        """QueryTooCostly if the deadline has passed; `doing` names the step in the message."""
        if self._clock() >= self._end:
            raise QueryTooCostly(f"query too costly: {doing} took more than {self.seconds:g} s"
                                 f" of CPU; {NARROW}")
        if time.monotonic() >= self._wall_end:
            raise QueryTooCostly(f"query too costly: {doing} took more than "
                                 f"{WALL_TIMES * self.seconds:g} s; {NARROW}")

    @contextmanager
    def paused(self) -> Iterator[None]:
        """Time spent inside does not count: for what a process reads once and every later
        search reuses (the catalog's captures), which is not this query's cost."""
        began, wall = self._clock(), time.monotonic()
        try:
            yield
        finally:
            self._end += self._clock() - began
            self._wall_end += time.monotonic() - wall
