"""How often a page changes, from visits at irregular times.

A page is modelled as changing by a Poisson process of rate lambda (changes per day). A visit
sees only whether the page differs from the last visit, not how many times it changed in
between: an interval of t days shows a change with probability 1 - exp(-lambda t). Cho and
Garcia-Molina ("Estimating frequency of change", ACM TOIT 2003) give the maximum-likelihood
estimate for irregular intervals: the root of

    sum over changed intervals t_i / (exp(lambda t_i) - 1)  =  sum over unchanged intervals t_j

which does not exist for a page seen changing at every visit (lambda = infinity) or never
(lambda = 0). So we take the maximum a posteriori estimate under a gamma prior
Gamma(1 + a, b), a = PRIOR.changes (0.5) and b = PRIOR.visits (1) times the page's mean
interval: as if the page had been watched for one more of its own intervals and seen half a
change in it. Its log-density adds a / lambda - b to the left side, which makes the root exist
and be unique (the left side falls strictly from +infinity to -(b + unchanged days)). Measured
in the page's own intervals, the prior is scale-free: it pulls a page visited hourly no more
than one visited weekly (a prior in days would swamp the fast pages or be nothing to the slow
ones). A page seen changed at each of 20 visits gets about 3 changes an interval, not
infinity; one interval of a day gives 1.06 a day if the page changed in it, 0.25 if not. A
page never visited twice gets PRIOR.rate (one change a week). The root is found by Newton's
method on log(lambda), kept inside a bisection bracket so it always converges.

Only the last MAX_INTERVALS intervals count: a page whose habits change is followed, and an
estimate costs the same for a page visited for years.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Interval:
    """The time between two consecutive visits of a page, and whether it had changed."""

    days: float
    changed: bool


@dataclass(frozen=True)
class Prior:
    """The gamma prior as pseudo-observations: `changes` changes seen over `visits` more
    intervals of the page's mean interval; `rate`, the estimate of a page never visited
    twice (changes per day)."""

    changes: float = 0.5
    visits: float = 1.0
    rate: float = 1 / 7


PRIOR = Prior()
MAX_INTERVALS = 64
_LOW, _HIGH = 1e-9, 1e6  # changes per day: the bracket of the root
_TOLERANCE = 1e-9  # relative, on lambda


def intervals_of(times: Sequence[float], changed: Sequence[bool]) -> list[Interval]:
    """The intervals between visits at `times` (days, ascending); `changed[k]` says whether
    visit k + 1 found the page different from visit k. Zero-length intervals are dropped."""
    return [Interval(b - a, c) for a, b, c in zip(times, times[1:], changed, strict=False)
            if b > a]


def estimate_rate(intervals: Iterable[Interval], prior: Prior = PRIOR) -> float:
    """The page's change rate (changes per day): the maximum a posteriori estimate of the
    module's docstring over the last MAX_INTERVALS intervals."""
    recent = list(intervals)[-MAX_INTERVALS:]
    if not recent:
        return prior.rate
    changed = [i.days for i in recent if i.changed]
    mean = sum(i.days for i in recent) / len(recent)
    unchanged = sum(i.days for i in recent if not i.changed) + prior.visits * mean
    a = prior.changes

    def slope(rate: float) -> tuple[float, float]:
        """The log-posterior's derivative at `rate`, and its own derivative."""
        value, derivative = a / rate - unchanged, -a / rate ** 2
        for t in changed:
            x = rate * t
            if x > 700:  # exp overflows; the term is 0 to double precision
                continue
            em1 = math.expm1(x)
            value += t / em1
            derivative -= t * t * (em1 + 1) / (em1 * em1)
        return value, derivative

    low, high = _LOW, _HIGH
    rate = (len(changed) + a) / (sum(changed) + unchanged)  # the naive count / exposure
    for _ in range(200):
        value, derivative = slope(rate)
        if value == 0:
            return rate
        if value > 0:
            low = rate
        else:
            high = rate
        # Newton on log(rate); a step leaving the bracket bisects it instead
        step = rate * math.exp(-value / (rate * derivative))
        if not low < step < high:
            step = math.sqrt(low * high)
        if abs(step - rate) <= _TOLERANCE * rate:
            return step
        rate = step
    return rate
