"""A small inline SVG chart of matches over time, one series per site, laid out server-side
(no script), so it works without JavaScript and is escaped like every other value. The
periods (second to year) are the ones index.periods chose from the spread of the captures;
every period in which the results' pages were captured is on the axis, so a phrase that left
a site drops to zero there. Lines show a trend over many periods; over a few, bars side by
side read better than lone dots."""

from __future__ import annotations

from dataclasses import dataclass

COLOURS = ["#1f5fa8", "#b34a1c", "#2f7d32", "#7b3fa0", "#8a6a00", "#0f7b7b"]
WIDTH, HEIGHT = 560, 150
LEFT, RIGHT, TOP, BOTTOM = 34, 12, 12, 26
BARS_UP_TO = 3  # periods
# how a period (the timestamp's leading digits) reads: in full (tooltips), and on the axis
LABELS = {4: ("{Y}", "{Y}"), 6: ("{Y}-{m}", "{Y}-{m}"), 8: ("{Y}-{m}-{d}", "{m}-{d}"),
          10: ("{Y}-{m}-{d} {H}:00 UTC", "{d} {H}h"),
          12: ("{Y}-{m}-{d} {H}:{M} UTC", "{H}:{M}"),
          14: ("{Y}-{m}-{d} {H}:{M}:{S} UTC", "{H}:{M}:{S}")}


@dataclass(frozen=True)
class Point:
    x: float
    y: float
    period: str  # in full
    count: int


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    period: str  # in full
    count: int


@dataclass(frozen=True)
class Series:
    name: str
    colour: str
    points: list[Point]
    bars: list[Bar]


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    kind: str  # "lines" or "bars"
    unit: str  # "second" ... "year"
    series: list[Series]
    ticks: list[tuple[float, str, str]]  # x, period (short), text-anchor
    top: int  # the count at the top of the y axis
    left: float
    right: float
    baseline: float
    ceiling: float


def period_label(period: str, *, short: bool = False) -> str:
    """How a period named by a timestamp's leading digits reads (`20261202` is 2026-12-02,
    short 12-02)."""
    p = period
    fields = {"Y": p[0:4], "m": p[4:6], "d": p[6:8], "H": p[8:10], "M": p[10:12],
              "S": p[12:14]}
    return LABELS[len(p)][short].format(**fields)


def period_chart(unit: str, periods: list[str], per_site: dict[str, dict[str, int]]
                 ) -> Chart:
    """Lay out `per_site` ({site: {period: matches}}) on the axis of `periods` (in `unit`,
    named as index.periods names them), every period shown, a site without matches in one
    at zero."""
    top = max([c for counts in per_site.values() for c in counts.values()] + [1])
    kind = "bars" if len(periods) <= BARS_UP_TO else "lines"
    inner = WIDTH - LEFT - RIGHT
    baseline, ceiling = HEIGHT - BOTTOM, TOP

    def y(count: int) -> float:
        return round(baseline - (baseline - ceiling) * count / top, 1)

    if kind == "bars":
        slot = inner / len(periods)
        bar = min(28.0, slot * 0.8 / max(len(per_site), 1))

        def x(i: int) -> float:
            return LEFT + slot * (i + 0.5)
    else:
        def x(i: int) -> float:
            return round(LEFT + inner * i / (len(periods) - 1), 1)

    series = []
    for n, (name, counts) in enumerate(per_site.items()):
        points = [Point(x(i), y(counts.get(m, 0)), period_label(m), counts.get(m, 0))
                  for i, m in enumerate(periods)]
        bars = []
        if kind == "bars":
            offset = (n - len(per_site) / 2) * bar
            bars = [Bar(round(p.x + offset, 1), p.y, round(bar - 2, 1),
                        round(baseline - p.y, 1), p.period, p.count) for p in points]
        series.append(Series(name, COLOURS[n % len(COLOURS)], points, bars))
    step = max(1, len(periods) // 6)
    # the last point of a line sits on the right edge: its label ends there
    ticks = [(x(i), period_label(m, short=True),
              "end" if kind == "lines" and i == len(periods) - 1 else "middle")
             for i, m in enumerate(periods) if i % step == 0]
    return Chart(WIDTH, HEIGHT, kind, unit, series, ticks, top, LEFT, WIDTH - RIGHT, baseline,
                 ceiling)
