"""A small inline SVG chart of matches over time, one line per site, drawn server-side (no
script), so it works without JavaScript and is escaped like every other value."""

from __future__ import annotations

from dataclasses import dataclass

COLOURS = ["#1f5fa8", "#b34a1c", "#2f7d32", "#7b3fa0", "#a07d12", "#0f7b7b"]
WIDTH, HEIGHT, PAD = 560, 140, 28


@dataclass(frozen=True)
class Series:
    name: str
    colour: str
    points: list[tuple[float, float, str, int]]  # x, y, month, count


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    months: list[str]
    series: list[Series]
    ticks: list[tuple[float, str]]
    top: int


def month_chart(per_site: dict[str, dict[str, int]]) -> Chart:
    """Lay out `per_site` ({site: {"YYYY-MM": matches}}) on a shared month axis."""
    months = sorted({m for counts in per_site.values() for m in counts})
    top = max([c for counts in per_site.values() for c in counts.values()] + [1])
    span = max(len(months) - 1, 1)

    def x(i: int) -> float:
        return PAD + (WIDTH - 2 * PAD) * (i / span if len(months) > 1 else 0.5)

    def y(count: int) -> float:
        return HEIGHT - PAD - (HEIGHT - 2 * PAD) * count / top

    series = [Series(name, COLOURS[n % len(COLOURS)],
                     [(x(i), y(counts.get(m, 0)), m, counts.get(m, 0))
                      for i, m in enumerate(months)])
              for n, (name, counts) in enumerate(per_site.items())]
    step = max(1, len(months) // 6)
    ticks = [(x(i), m) for i, m in enumerate(months) if i % step == 0]
    return Chart(WIDTH, HEIGHT, months, series, ticks, top)
