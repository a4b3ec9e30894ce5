"""The schedule: each page's estimated change rate, visits, last change and when it is next
due, per page and per site, with what `palimpsest monitor` would fetch now. `palimpsest
schedule --json` prints `Schedule.to_json()`, `/schedule` renders the same object, and the
monitor fetches its `chosen` pages.

Pages of the configured sites are planned, with those never visited yet: the sites' seeds and
the new links the monitor found. A page of no configured site (an imported WARC's) is
estimated, not planned.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np

from index.collection import Collection
from index.config import NetworkConfig, Schedule
from index.schedule.estimator import estimate_rate
from index.schedule.history import PageHistory, page_histories
from index.schedule.planner import DAY, Limits, Pages, plan
from index.schedule.state import MonitorState


@dataclass(frozen=True)
class PageRow:
    url: str
    site: str | None
    estimate: float  # changes per day
    visits: int
    changes: int  # visits that found the text changed
    first_visit: float | None  # days since the epoch
    last_visit: float | None
    last_change: float | None
    interval: float | None  # days between visits the plan gives it; None: not planned
    next_due: float | None
    due: bool
    chosen: bool  # in what the monitor fetches now

    def to_json(self) -> dict[str, Any]:
        row = asdict(self)
        for key in ("first_visit", "last_visit", "last_change", "next_due"):
            row[key] = iso(row[key])
        row["interval_hours"] = None if self.interval is None else round(self.interval * 24, 3)
        del row["interval"]
        row["estimate"] = round(self.estimate, 6)
        return row


@dataclass(frozen=True)
class ScheduleReport:
    now: float
    limits: Schedule
    rows: list[PageRow]  # by estimate, highest first
    feasible: bool
    planned_per_day: float
    fetched_last_day: int
    waiting: int
    budgets: dict[str, int]  # each configured site's fetches a day

    @property
    def chosen(self) -> list[PageRow]:
        """The pages to fetch now, in the plan's order."""
        return [r for r in self.rows if r.chosen]

    def sites(self) -> list[dict[str, Any]]:
        """Each site's pages, visits, summed estimate, last change, next due and planned
        fetches a day."""
        by_site: dict[str | None, list[PageRow]] = {}
        for row in self.rows:
            by_site.setdefault(row.site, []).append(row)
        return [_site_json(site, rows, self.budgets.get(site or "")) for site, rows in
                sorted(by_site.items(), key=lambda item: item[0] or "")]

    def to_json(self, limit: int | None = None, offset: int = 0) -> dict[str, Any]:
        """The schedule JSON object; `limit` and `offset` page through its URLs."""
        shown = self.rows[offset:None if limit is None else offset + limit]
        return {"generated": iso(self.now), "limits": asdict(self.limits),
                "feasible": self.feasible,
                "planned_fetches_per_day": round(self.planned_per_day, 2),
                "fetched_last_24h": self.fetched_last_day,
                "due": sum(r.due for r in self.rows), "chosen": len(self.chosen),
                "waiting": self.waiting, "total": len(self.rows), "offset": offset,
                "sites": self.sites(), "urls": [r.to_json() for r in shown]}


def schedule_report(collection: Collection, config: NetworkConfig | None,
                    state: MonitorState | None = None, now: float | None = None,
                    histories: list[PageHistory] | None = None) -> ScheduleReport:
    """The schedule of `collection` at `now` (days since the epoch, default now), from the
    pages' `histories` (default: read from the catalog now)."""
    now = time.time() / DAY if now is None else now
    state = state or MonitorState.load(collection)
    schedule = config.schedule if config else Schedule()
    if histories is None:
        histories = page_histories(collection, config)
    sites = {s.name for s in config.sites} if config else set()
    known = {h.url for h in histories}
    # a page filed under a site by its host alone (outside every seed's prefix) is not one
    # a crawl may fetch: estimated, not planned
    planned = [h for h in histories if h.site in sites and config.site_for_url(h.url)]
    never = {seed: site.name for site in (config.sites if config else ()) for seed in site.seeds}
    never.update(state.candidates)  # the seeds, and the new links the monitor found
    planned += [PageHistory(url, site, (), ()) for url, site in never.items()
                if url not in known and site in sites]
    planned_urls = {h.url for h in planned}
    others = [h for h in histories if h.url not in planned_urls]
    rates = [estimate_rate(h.intervals) for h in planned]
    pages = Pages.of([h.site for h in planned], rates,
                     [h.times[-1] if h.times else None for h in planned])
    recent = state.recent(now)
    limits = Limits.from_config(schedule, config.sites if config else ())
    result = plan(pages, limits, now, recent)
    chosen = set(result.due)
    rows = [_row(h, rates[i], result.intervals[i], result.next_due[i], i in chosen, now)
            for i, h in enumerate(planned)]
    rows += [_row(h, estimate_rate(h.intervals), None, None, False, now) for h in others]
    # what the monitor fetches now first, in the plan's order; then by estimate
    rank = {planned[i].url: k for k, i in enumerate(result.due)}
    rows.sort(key=lambda r: (rank.get(r.url, len(rank)), -r.estimate, r.url))
    return ScheduleReport(now, schedule, rows, result.feasible, result.planned_per_day,
                          len(recent), result.waiting, {name: limits.site_budget(name)
                                                        for name in sites})


def _row(history: PageHistory, rate: float, interval: float | None, next_due: float | None,
         chosen: bool, now: float) -> PageRow:
    times = history.times
    planned = interval is not None
    return PageRow(history.url, history.site, rate, len(times), sum(history.changed),
                   times[0] if times else None, times[-1] if times else None,
                   history.last_change, float(interval) if planned else None,
                   float(next_due) if planned else None,
                   planned and bool(next_due <= now), chosen)


def _site_json(site: str | None, rows: list[PageRow], budget: int | None) -> dict[str, Any]:
    changes = [r.last_change for r in rows if r.last_change is not None]
    due = [r.next_due for r in rows if r.next_due is not None]
    planned = [1 / r.interval for r in rows if r.interval]
    return {"site": site, "pages": len(rows), "visits": sum(r.visits for r in rows),
            "changes_per_day": round(sum(r.estimate for r in rows), 4),
            "last_change": iso(max(changes) if changes else None),
            "next_due": iso(min(due) if due else None),
            "due": sum(r.due for r in rows), "chosen": sum(r.chosen for r in rows),
            "planned_fetches_per_day": round(sum(planned), 2) if planned else None,
            "fetches_per_day": budget}


def iso(days: float | None) -> str | None:
    """Days since the epoch as ISO 8601 UTC (to the second), None for None."""
    if days is None or not np.isfinite(days):
        return None
    moment = datetime.fromtimestamp(round(days * DAY), UTC)
    return moment.isoformat().replace("+00:00", "Z")
