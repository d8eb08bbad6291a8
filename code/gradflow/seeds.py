"""One measurement over several seeds, as the chapters report it: the median and the range.

A single run of a chaotic training is not a result, so the chapters train with several seeds and
state the median with the smallest and largest value beside it. ``format`` writes the three as the
tables show them::

    >>> f"{spread([0.8, 1.3, 0.9]):.2f}"
    '0.90 (0.80 to 1.30)'
"""

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np


class Spread(NamedTuple):
    """A measurement over seeds: its median, smallest and largest value."""

    median: float
    low: float
    high: float

    def __format__(self, spec: str) -> str:
        return f"{self.median:{spec}} ({self.low:{spec}} to {self.high:{spec}})"


def spread(values: Sequence[float]) -> Spread:
    """The median and range of one measurement over seeds (a diverged run's ``inf`` counts as
    the largest value)."""
    values = np.asarray(values, dtype=float)
    if values.size == 0:
        raise ValueError("values is empty: give one value per seed")
    return Spread(float(np.median(values)), float(values.min()), float(values.max()))


def two_digits(x: float) -> float:
    """``x`` rounded to two significant digits: a large number that varies from seed to seed, glued
    into the text as 1,100 rather than 1,137.2."""
    return float(f"{x:.2g}")
