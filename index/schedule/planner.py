"""Which pages to fetch now, within the fetch budget, to capture the most versions.

A page visited every t days that changes at rate lambda yields a new version at a visit with
probability 1 - exp(-lambda t): f (1 - exp(-lambda / f)) versions a day at f visits a day.
Maximising the sum of that over pages for a budget of B visits a day (Lagrange: the
derivative 1 - exp(-x)(1 + x) in x = lambda / f is the same for every page) gives every page
the same lambda / f: visits in proportion to the change rate, f = lambda / x with x set by the
budget. Then `min_interval` and `max_interval` clamp each page's interval, and each site's own
budget raises x for that site alone when its pages would take more than it allows.

The allocation says how often each page is due; the budget is enforced by what was fetched in
the last 24 hours (network and per site), so no 24 hours ever hold more fetches than the
limits, whatever the estimates. When more pages are due than the budget has left, pages past
`max_interval` go first (the hard constraint), then pages never visited, then those most
likely to have changed since their last visit (1 - exp(-lambda * elapsed)).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from index.config import Schedule, Site, duration_seconds

DAY = 86400.0
_BISECTIONS = 50  # halvings of the log-bracket of x: 2**-50 of 55 decades


@dataclass(frozen=True)
class Limits:
    """The `[schedule]` section, in fetches per day and days, with the sites' own budgets
    (`fetches_per_day` of a [[sites]] entry) in `sites`."""

    fetches_per_day: int
    fetches_per_day_per_site: int
    min_interval: float
    max_interval: float
    sites: dict[str, int] = field(default_factory=dict)

    @classmethod
    def from_config(cls, schedule: Schedule, sites: Iterable[Site] = ()) -> Limits:
        return cls(schedule.fetches_per_day, schedule.fetches_per_day_per_site,
                   duration_seconds(schedule.min_interval) / DAY,
                   duration_seconds(schedule.max_interval) / DAY,
                   {s.name: s.fetches_per_day for s in sites if s.fetches_per_day})

    def site_budget(self, site: str) -> int:
        """The fetches a day `site` may have."""
        return self.sites.get(site, self.fetches_per_day_per_site)


@dataclass
class Pages:
    """The pages to plan for, as arrays: each one's site, estimated rate (changes per day) and
    last visit (days since the epoch; NaN for a page never visited)."""

    sites: np.ndarray  # int codes into site_names
    site_names: list[str]
    rates: np.ndarray
    last_visit: np.ndarray

    @classmethod
    def of(cls, sites: Sequence[str], rates: Iterable[float],
           last_visit: Iterable[float | None]) -> Pages:
        names = sorted(set(sites))
        code = {name: i for i, name in enumerate(names)}
        return cls(np.array([code[s] for s in sites], dtype=np.int64), names,
                   np.array(list(rates), dtype=float),
                   np.array([np.nan if t is None else t for t in last_visit], dtype=float))

    def __len__(self) -> int:
        return len(self.rates)


@dataclass(frozen=True)
class Plan:
    """What is due now: `due`, the pages to fetch (indexes into the Pages, in priority order,
    within the budget left); `waiting`, pages due that the budget holds back; `intervals`,
    each page's interval in days; `next_due`, when each is next due (days; now for one due);
    `feasible`, whether the budget allows every page its `max_interval`."""

    due: list[int]
    waiting: int
    intervals: np.ndarray
    next_due: np.ndarray
    feasible: bool
    planned_per_day: float


def allocate(pages: Pages, limits: Limits) -> tuple[np.ndarray, bool]:
    """Each page's interval between visits (days), and whether the budgets allow every page
    its max_interval."""
    rates = np.maximum(pages.rates, 1e-12)
    low, high = 1.0 / limits.max_interval, 1.0 / limits.min_interval
    floor = np.zeros(len(pages))
    feasible = True
    for code in range(len(pages.site_names)):
        mine = pages.sites == code
        x, ok = _solve(rates[mine], np.zeros(mine.sum()), low, high,
                       limits.site_budget(pages.site_names[code]))
        floor[mine] = x
        feasible &= ok
    x, ok = _solve(rates, floor, low, high, limits.fetches_per_day)
    with np.errstate(divide="ignore"):
        frequency = np.clip(rates / np.maximum(x, floor), low, high)
    return 1.0 / frequency, feasible and ok


def _solve(rates: np.ndarray, floor: np.ndarray, low: float, high: float, budget: float
           ) -> tuple[float, bool]:
    """The least x with sum(clip(rates / max(x, floor), low, high)) <= budget (0 if even
    every page at its highest frequency fits), and whether the lowest frequencies fit."""
    def total(x: float) -> float:
        with np.errstate(divide="ignore"):  # x = 0: every page at its highest frequency
            return float(np.clip(rates / np.maximum(x, floor), low, high).sum())

    if not len(rates) or total(0.0) <= budget:
        return 0.0, True
    if len(rates) * low > budget:
        return np.inf, False
    a, b = -30.0, 25.0  # log10 of x
    for _ in range(_BISECTIONS):
        mid = (a + b) / 2
        a, b = (a, mid) if total(10.0 ** mid) <= budget else (mid, b)
    return 10.0 ** b, True


def plan(pages: Pages, limits: Limits, now: float, recent: Iterable[tuple[float, str]]
         ) -> Plan:
    """The pages to fetch at `now` (days since the epoch), given the fetches of the last
    24 hours as (time, site name): see the module's docstring."""
    intervals, feasible = allocate(pages, limits)
    never = np.isnan(pages.last_visit)
    elapsed = np.where(never, np.inf, now - np.nan_to_num(pages.last_visit))
    next_due = np.where(never, now, np.nan_to_num(pages.last_visit) + intervals)
    due = np.flatnonzero(never | (elapsed >= intervals))
    overdue = elapsed[due] >= limits.max_interval
    chance = -np.expm1(-pages.rates[due] * np.where(never[due], 0, elapsed[due]))
    # lexsort: the last key first; overdue before never-visited before the rest
    order = due[np.lexsort((-chance, -elapsed[due] * overdue, ~never[due], ~overdue))]
    chosen = _within_budget(order, pages, limits, now, recent)
    return Plan(chosen, len(due) - len(chosen), intervals, np.maximum(next_due, now) if
                len(pages) else next_due, feasible, float((1.0 / intervals).sum()))


def _within_budget(order: np.ndarray, pages: Pages, limits: Limits, now: float,
                   recent: Iterable[tuple[float, str]]) -> list[int]:
    """The pages of `order`, in order, that the network's and each site's fetches of the
    last 24 hours leave room for."""
    used = Counter(site for t, site in recent if now - t < 1.0)
    left = limits.fetches_per_day - sum(used.values())
    site_left = {name: limits.site_budget(name) - used[name] for name in pages.site_names}
    chosen: list[int] = []
    for i in order:
        if left <= 0:
            break
        site = pages.site_names[pages.sites[i]]
        if site_left[site] > 0:
            chosen.append(int(i))
            left -= 1
            site_left[site] -= 1
    return chosen
