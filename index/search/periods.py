"""The periods a search's results are counted in over time (the search page's chart): the
unit (second to year) chosen from how far the results' captures spread, so that two crawls
minutes apart fall in periods of their own rather than in one month."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np

# the chart's periods, finest first: (unit, the timestamp digits naming one, its length in
# seconds), and how many periods the results' captures may spread over in the finest unit
PERIODS = (("second", 14, 1), ("minute", 12, 60), ("hour", 10, 3600), ("day", 8, 86_400),
           ("month", 6, 2_629_746), ("year", 4, 31_556_952))
MAX_PERIODS = 40


@dataclass(frozen=True)
class Periods:
    """Search results counted over time: the unit, every period in which the results' pages
    were captured (named by the timestamp's leading digits: `202612` is a month), and per
    site the results in each period that has any."""

    unit: str
    names: list[str]
    by_site: dict[str | None, dict[str, int]]

    def to_json(self) -> dict[str, Any]:
        return {"unit": self.unit, "periods": self.names,
                "by_site": {site: counts for site, counts in self.by_site.items()
                            if site is not None}}


def count_by_period(time: np.ndarray, url: np.ndarray, url_site: np.ndarray,
                    site_names: list[str | None], captured: np.ndarray, collapse: bool
                    ) -> Periods:
    """The results' captures (`time`: 14-digit numbers; `url`: URL numbers, whose site
    numbers `url_site` holds) counted per site and period. `captured` holds the times of
    every capture of the results' pages (whatever their text): their periods are on the
    axis too, so that a period in which the pages no longer match shows as none, and their
    spread chooses the unit, the finest of PERIODS that keeps it to at most MAX_PERIODS
    periods. Collapsed, a URL counts once in each period it has a capture in."""
    if not len(time):
        return Periods("month", [], {})
    every = np.concatenate([time, captured])
    unit, digits = period_unit(int(every.min()), int(every.max()))
    scale = 10 ** (14 - digits)
    names = np.unique(every // scale)
    slot = np.searchsorted(names, time // scale)
    n = len(names)
    if collapse:
        pairs = np.unique(url * n + slot)
        url, slot = pairs // n, pairs % n
    counts = np.bincount(url_site[url] * n + slot, minlength=len(site_names) * n)
    found: dict[str | None, dict[str, int]] = {}
    for i in np.flatnonzero(counts).tolist():
        site, period = divmod(i, n)
        found.setdefault(site_names[site], {})[str(names[period])] = int(counts[i])
    return Periods(unit, [str(name) for name in names.tolist()], found)


def period_unit(first: int, last: int) -> tuple[str, int]:
    """The finest unit of PERIODS in which `first` to `last` (14-digit numbers) spans at
    most MAX_PERIODS periods, and the timestamp digits that name one of them."""
    def moment(t: int) -> datetime:
        return datetime.strptime(f"{t:014d}", "%Y%m%d%H%M%S")

    span = (moment(last) - moment(first)).total_seconds()
    for unit, digits, seconds in PERIODS:
        if span <= seconds * MAX_PERIODS:
            return unit, digits
    return PERIODS[-1][:2]
