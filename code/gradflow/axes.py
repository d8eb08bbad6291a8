"""The axes of the explorable figures (``gradflow.explorer``): where a value sits along an axis,
linear or logarithmic, which ticks the axis carries, and numbers as the reader reads them::

    log_axis("gradient", [3e-5, 0.2])  # 10⁻⁵ ... 10⁰, a tick at every decade
    integer_axis("layer", 1, 30)  # ticks at 1, 5, 10, ..., 30
    sci(0.000123456)  # '1.23 × 10⁻⁴'
"""

import itertools
import math
import numbers
from collections.abc import Sequence
from dataclasses import dataclass


def finite(value) -> bool:
    """Whether ``value`` is a finite real number (a bool is not one)."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)


# -- numbers as the reader reads them --------------------------------------------------------------
def decade(k: int) -> str:
    """10 to the power ``k``, with a superscript exponent: '10⁻⁵'."""
    return "10" + str(k).translate(str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹"))


def sci(value: float) -> str:
    """Three significant digits in scientific notation: '1.23 × 10⁻⁵'."""
    mantissa, exponent = f"{value:.2e}".split("e")
    return f"{mantissa} × {decade(int(exponent))}"


# -- axes ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Axis:
    """An axis: its label, its range ``lo``..``hi`` (logarithmic if ``log``), its labelled ticks
    ``(value, text)`` with a grid line, and its ``minor`` ticks, unlabelled."""

    label: str
    lo: float
    hi: float
    log: bool = False
    ticks: Sequence[tuple[float, str]] = ()
    minor: Sequence[float] = ()

    def __post_init__(self):
        if not (finite(self.lo) and finite(self.hi) and self.lo < self.hi):
            raise ValueError(f"axis {self.label!r}: needs finite lo < hi, got {self.lo}, {self.hi}")
        if self.log and self.lo <= 0:
            raise ValueError(f"axis {self.label!r}: a logarithmic axis starts above 0")
        for value in [*(v for v, _ in self.ticks), *self.minor]:
            if not self.holds(value):
                raise ValueError(f"axis {self.label!r}: tick {value} is outside its range")

    def holds(self, value: float) -> bool:
        """Whether ``value`` lies on the axis (within a millionth of its length)."""
        if not finite(value) or (self.log and value <= 0):
            return False
        return -1e-6 <= self.fraction(value) <= 1 + 1e-6

    def fraction(self, value: float) -> float:
        """Where ``value`` sits along the axis: 0 at ``lo``, 1 at ``hi``."""
        if self.log:
            return math.log10(value / self.lo) / math.log10(self.hi / self.lo)
        return (value - self.lo) / (self.hi - self.lo)


def log_axis(label: str, values: Sequence[float], most: int = 7) -> Axis:
    """A logarithmic axis over whole decades that holds every positive value of ``values``; at most
    ``most`` decades are labelled, every decade has a tick."""
    if any(v is not None and not math.isfinite(v) for v in values):
        raise ValueError(f"axis {label!r}: values must be finite numbers (None for a gap)")
    positive = [v for v in values if v is not None and v > 0]
    if not positive:
        raise ValueError(f"axis {label!r}: a logarithmic axis needs a value above 0")
    lo, hi = math.floor(math.log10(min(positive))), math.ceil(math.log10(max(positive)))
    hi = max(hi, lo + 1)
    every = next(s for s in itertools.count(1) if (hi - lo) / s <= most)
    ticks = [(10.0**k, decade(k)) for k in range(lo, hi + 1) if k % every == 0]
    minor = [10.0**k for k in range(lo, hi + 1)]
    return Axis(label, 10.0**lo, 10.0**hi, log=True, ticks=ticks, minor=minor)


def integer_axis(label: str, lo: int, hi: int, most: int = 8) -> Axis:
    """A linear axis from ``lo`` to ``hi`` labelled at ``lo`` and the multiples of a step of 1, 2 or
    5 times a power of ten, at most ``most`` of them."""
    step = next(
        s * 10**k for k in itertools.count() for s in (1, 2, 5) if (hi - lo) / (s * 10**k) < most
    )
    values = [lo, *(v for v in range(step * (lo // step + 1), hi + 1, step) if v - lo >= step / 2)]
    return Axis(label, lo, hi, ticks=[(v, str(v)) for v in values])
