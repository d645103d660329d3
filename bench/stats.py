"""Figures from repeated runs: the median, the spread, a ratio of medians."""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field


@dataclass
class Figure:
    """One measured quantity over several runs."""

    unit: str
    samples: list[float] = field(default_factory=list)

    def add(self, value: float) -> None:
        self.samples.append(value)

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    @property
    def spread(self) -> tuple[float, float]:
        return min(self.samples), max(self.samples)

    def text(self, digits: int = 1) -> str:
        """`median (min-max)`, or the one value of a single run."""
        if len(self.samples) == 1:
            return f"{self.samples[0]:.{digits}f}"
        low, high = self.spread
        return f"{self.median:.{digits}f} ({low:.{digits}f}-{high:.{digits}f})"


def ratio(part: Figure, whole: Figure) -> float:
    """`part`'s median over `whole`'s, as a percentage."""
    return 100 * part.median / whole.median
