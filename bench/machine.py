"""What the machine itself did during a bench run, beside what was measured."""

from __future__ import annotations

import os
from pathlib import Path


def steal_seconds() -> float:
    """CPU time the hypervisor has given other guests so far, all CPUs summed (/proc/stat's
    eighth field): on this VM it comes and goes, and a run it hits is slower for it."""
    fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()
    return int(fields[8]) / os.sysconf("SC_CLK_TCK")


class Steal:
    """The steal while the `with` block runs: `seconds` once it has ended."""

    def __enter__(self) -> Steal:
        self.seconds, self._before = 0.0, steal_seconds()
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = steal_seconds() - self._before


def steal_percent(stolen_s: float, wall_s: float) -> float:
    """`stolen_s` over `wall_s` as a share of all the machine's CPUs."""
    return 100 * stolen_s / max(wall_s * (os.cpu_count() or 1), 1e-6)
