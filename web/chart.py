"""A small inline SVG chart of matches over time, one series per site, laid out server-side
(no script), so it works without JavaScript and is escaped like every other value. Lines show
a trend over many months; over a few months, bars side by side read better than lone dots."""

from __future__ import annotations

from dataclasses import dataclass

COLOURS = ["#1f5fa8", "#b34a1c", "#2f7d32", "#7b3fa0", "#8a6a00", "#0f7b7b"]
WIDTH, HEIGHT = 560, 150
LEFT, RIGHT, TOP, BOTTOM = 34, 12, 12, 26
BARS_UP_TO = 3  # months


@dataclass(frozen=True)
class Point:
    x: float
    y: float
    month: str
    count: int


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    month: str
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
    series: list[Series]
    ticks: list[tuple[float, str]]  # x, month
    top: int  # the count at the top of the y axis
    left: float
    right: float
    baseline: float
    ceiling: float


def month_chart(per_site: dict[str, dict[str, int]]) -> Chart:
    """Lay out `per_site` ({site: {"YYYY-MM": matches}}) on a shared month axis."""
    months = sorted({m for counts in per_site.values() for m in counts})
    top = max([c for counts in per_site.values() for c in counts.values()] + [1])
    kind = "bars" if len(months) <= BARS_UP_TO else "lines"
    inner = WIDTH - LEFT - RIGHT
    baseline, ceiling = HEIGHT - BOTTOM, TOP

    def y(count: int) -> float:
        return round(baseline - (baseline - ceiling) * count / top, 1)

    if kind == "bars":
        slot = inner / len(months)
        bar = min(28.0, slot * 0.8 / max(len(per_site), 1))

        def x(i: int) -> float:
            return LEFT + slot * (i + 0.5)
    else:
        def x(i: int) -> float:
            return round(LEFT + inner * i / (len(months) - 1), 1)

    series = []
    for n, (name, counts) in enumerate(per_site.items()):
        points = [Point(x(i), y(counts.get(m, 0)), m, counts.get(m, 0))
                  for i, m in enumerate(months)]
        bars = []
        if kind == "bars":
            offset = (n - len(per_site) / 2) * bar
            bars = [Bar(round(p.x + offset, 1), p.y, round(bar - 2, 1),
                        round(baseline - p.y, 1), p.month, p.count) for p in points]
        series.append(Series(name, COLOURS[n % len(COLOURS)], points, bars))
    step = max(1, len(months) // 6)
    ticks = [(x(i), m) for i, m in enumerate(months) if i % step == 0]
    return Chart(WIDTH, HEIGHT, kind, series, ticks, top, LEFT, WIDTH - RIGHT, baseline,
                 ceiling)
