"""Schedule bench: a simulated network of 2,000 pages with known Poisson change rates (log-
uniform from one change every 90 days to 4 a day), fetched within one fixed budget by the
monitor's own planner and estimator (index.schedule) beside uniform recrawling (the same
planner told every page changes alike) in the same run. Prints versions captured, average
freshness, budget use (the most fetches in any 24 hours, network and per site) and the
estimator's median relative error at each page's 20th visit, with the ratios; never asserts.

    .venv/bin/python bench/schedule.py [--pages 2000] [--days 160] [--budget 2000]
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from index.schedule.estimator import Interval, estimate_rate  # noqa: E402
from index.schedule.planner import Limits, Pages, plan  # noqa: E402

SITES = 10
TICK = 1 / 24  # the monitor wakes every hour (days)
ERROR_AT = 20  # visits after which the estimate is scored


@dataclass
class Network:
    """The simulated pages: each one's site, true rate and change times (days, sorted)."""

    sites: list[str]
    rates: np.ndarray
    changes: list[np.ndarray]

    @classmethod
    def make(cls, pages: int, days: float, seed: int) -> Network:
        rng = np.random.default_rng(seed)
        rates = np.exp(rng.uniform(math.log(1 / 90), math.log(4), pages))
        changes = [np.cumsum(rng.exponential(1 / r, int(r * days * 1.5) + 20)) for r in rates]
        return cls([f"site{i % SITES}" for i in range(pages)], rates, changes)

    def first_change_after(self, i: int, t: float) -> float:
        times = self.changes[i]
        k = int(np.searchsorted(times, t, side="right"))
        return float(times[k]) if k < len(times) else math.inf


@dataclass
class Run:
    """One policy's outcome."""

    name: str
    versions: int = 0
    fetches: list[tuple[float, str]] = field(default_factory=list)
    freshness: list[float] = field(default_factory=list)
    errors: list[float] = field(default_factory=list)
    plan_seconds: float = 0.0


def simulate(network: Network, limits: Limits, days: float, adaptive: bool) -> Run:
    """Every hour: plan with the estimates so far (or, for uniform, one rate for every page),
    fetch what the plan says, score what was captured."""
    n = len(network.rates)
    run = Run("by change rate" if adaptive else "uniform")
    last = np.full(n, np.nan)
    next_change = np.full(n, -math.inf)  # the first change after the last visit
    visits: list[list[float]] = [[] for _ in range(n)]
    seen: list[list[bool]] = [[] for _ in range(n)]
    estimates = np.full(n, estimate_rate([]))
    recent: deque[tuple[float, str]] = deque()
    for step in range(int(days / TICK)):
        now = step * TICK
        while recent and now - recent[0][0] >= 1.0:
            recent.popleft()
        pages = Pages.of(network.sites, estimates if adaptive else np.ones(n), last)
        started = time.perf_counter()
        due = plan(pages, limits, now, recent).due
        run.plan_seconds += time.perf_counter() - started
        for i in due:
            changed = now >= next_change[i]
            run.versions += bool(changed)  # the first visit is a version too (-inf)
            if visits[i]:
                seen[i].append(bool(changed))
            visits[i].append(now)
            last[i], next_change[i] = now, network.first_change_after(i, now)
            recent.append((now, network.sites[i]))
            run.fetches.append((now, network.sites[i]))
            if adaptive:
                intervals = [Interval(b - a, c) for a, b, c in
                             zip(visits[i], visits[i][1:], seen[i], strict=False)]
                estimates[i] = estimate_rate(intervals)
                if len(visits[i]) == ERROR_AT:
                    run.errors.append(abs(estimates[i] - network.rates[i]) / network.rates[i])
        run.freshness.append(float(np.mean(now < next_change)))
    return run


def busiest_day(fetches: list[tuple[float, str]], site: str | None = None) -> int:
    """The most fetches (of `site`, or of all) in any 24 hours."""
    times = [t for t, s in fetches if site is None or s == site]
    most, start = 0, 0
    for end, t in enumerate(times):
        while t - times[start] >= 1.0:
            start += 1
        most = max(most, end - start + 1)
    return most


def report(run: Run, limits: Limits, days: float, sites: list[str]) -> None:
    worst_site = max(busiest_day(run.fetches, s) for s in set(sites))
    print(f"\n{run.name}")
    print(f"  versions captured     {run.versions}")
    print(f"  average freshness     {statistics.fmean(run.freshness):.3f}")
    print(f"  fetches               {len(run.fetches)} of {limits.fetches_per_day * days:.0f}"
          f" budgeted ({len(run.fetches) / (limits.fetches_per_day * days):.1%})")
    print(f"  busiest 24 h          {busiest_day(run.fetches)} (network limit "
          f"{limits.fetches_per_day}), {worst_site} on one site (limit "
          f"{limits.fetches_per_day_per_site})")
    print(f"  planning              {run.plan_seconds / (days / TICK) * 1000:.1f} ms a plan")
    if run.errors:
        print(f"  estimate after {ERROR_AT} visits: median relative error "
              f"{statistics.median(run.errors):.3f} over {len(run.errors)} pages")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=2000)
    parser.add_argument("--days", type=float, default=160)
    parser.add_argument("--budget", type=int, default=2000, help="fetches a day, network")
    parser.add_argument("--site-budget", type=int, default=300, help="fetches a day, a site")
    parser.add_argument("--seed", type=int, default=15)
    args = parser.parse_args()
    limits = Limits(args.budget, args.site_budget, min_interval=1 / 24, max_interval=7.0)
    network = Network.make(args.pages, args.days, args.seed)
    print(f"{args.pages} pages in {SITES} sites, {args.days:.0f} days, change rates "
          f"{network.rates.min():.4f} to {network.rates.max():.2f} a day (sum "
          f"{network.rates.sum():.0f}); budget {args.budget} a day, {args.site_budget} a site;"
          f" min_interval 1h, max_interval 7d; planned every hour")
    runs = [simulate(network, limits, args.days, adaptive) for adaptive in (True, False)]
    for run in runs:
        report(run, limits, args.days, network.sites)
    ours, uniform = runs
    fresher = statistics.fmean(ours.freshness) / statistics.fmean(uniform.freshness)
    print(f"\nversions: {ours.versions / uniform.versions:.2f}x uniform's (goal >= 1.3); "
          f"freshness: {fresher:.2f}x uniform's (goal >= 0.8)")


if __name__ == "__main__":
    main()
