"""The explorers' drawings read back in data units, for the tests of every chapter's explorer: the
inverse of the axis mapping of ``gradflow.chart``, written out here by hand."""

import math
import re

from gradflow import chart
from gradflow.axes import Axis
from gradflow.explorer import Explorer

POINT = re.compile(r"([ML])(-?[\d.]+),(-?[\d.]+)")


def unmap(axis: Axis, fraction: float) -> float:
    """The value at ``fraction`` of an axis's length."""
    if axis.log:
        return axis.lo * (axis.hi / axis.lo) ** fraction
    return axis.lo + fraction * (axis.hi - axis.lo)


def read_path(d: str, xaxis: Axis, yaxis: Axis, top: float) -> list[list[tuple[float, float]]]:
    """An SVG path back in data units: one list of (x, y) per stretch drawn without lifting the pen."""
    runs = []
    for pen, px, py in POINT.findall(d):
        if pen == "M":
            runs.append([])
        x = unmap(xaxis, (float(px) - chart.LEFT) / (chart.RIGHT - chart.LEFT))
        y = unmap(yaxis, (chart.BOTTOM - float(py)) / (chart.BOTTOM - top))
        runs[-1].append((x, y))
    return runs


def points(d: str, xaxis: Axis, yaxis: Axis, top: float) -> list[tuple[float, float]]:
    """Every point of an SVG path in data units, the stretches joined."""
    return [point for run in read_path(d, xaxis, yaxis, top) for point in run]


def rounding(axis: Axis, top: float) -> float:
    """The relative error of a value drawn on a log axis, from coordinates rounded to 0.05 unit."""
    return 10 ** (0.05 / (chart.BOTTOM - top) * math.log10(axis.hi / axis.lo)) - 1 + 1e-9


def top_of(explorer: Explorer) -> float:
    """The plot area's top edge, below the legend."""
    return chart.legend(explorer.series)[1]


def states(data: dict, depth: int):
    """Every state of an explorer's nested data, with its control positions."""

    def walk(node, at):
        if len(at) == depth:
            yield at, node
        else:
            for i, child in enumerate(node):
                yield from walk(child, (*at, i))

    yield from walk(data["states"], ())
