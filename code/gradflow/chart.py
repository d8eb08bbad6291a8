"""The line chart an explorable figure (``gradflow.explorer``) shows, drawn one state at a time: its
lines (``Series``), a state's values (``View``), and the drawing of a state, as SVG for the page and
as a matplotlib picture (PNG or PDF) where no script runs. Text and axes take the page's colour
(``currentColor``), so the SVG reads in light and dark mode, and it scales to a phone's width."""

import io
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from html import escape

from gradflow.axes import Axis

# the drawing in SVG units: its width and height, and the plot area's left, right and bottom edges
# (its top edge sits below the legend)
WIDTH, HEIGHT, LEFT, RIGHT, BOTTOM = 560, 350, 80, 544, 288
FONT = 17  # the SVG's font size: about 11 px on a 390 px wide phone
ROW = 22  # the height of a row of the legend


@dataclass(frozen=True)
class Series:
    """A line of the chart: its name in the views, its label in the legend, colour and dash."""

    name: str
    label: str
    color: str
    dash: str = ""  # SVG stroke-dasharray, e.g. "7 4"; "" draws a solid line


@dataclass(frozen=True)
class View:
    """One state of the chart: its ``caption`` in words, each shown line's values ``y[name]``
    (``None`` leaves a gap; a series not named is not drawn) at the positions ``x`` (1, 2, ... by
    default), and its own axes if they differ from the explorer's."""

    caption: str
    y: Mapping[str, Sequence[float | None]]
    x: Sequence[float] | None = None
    xaxis: Axis | None = None
    yaxis: Axis | None = None


# -- the drawing, in SVG units ---------------------------------------------------------------------
def legend(series: Sequence[Series]) -> tuple[str, int]:
    """The legend's SVG, in rows above the plot, and the plot's top edge below it."""
    parts, x, row = [], LEFT, 0
    for k, s in enumerate(series):
        width = 38 + 0.56 * FONT * len(s.label) + 24  # the label's width, estimated
        if x > LEFT and x + width > WIDTH:
            x, row = LEFT, row + 1
        y = 17 + row * ROW
        dash = f' stroke-dasharray="{s.dash}"' if s.dash else ""
        parts.append(
            f'<g class="gfx-key" data-series="{k}"><line x1="{x}" x2="{x + 30}" y1="{y}" '
            f'y2="{y}" stroke="{s.color}" stroke-width="2.5"{dash}/>'
            f'<text x="{x + 38}" y="{y + 6}">{escape(s.label)}</text></g>'
        )
        x += width
    return "".join(parts), 48 + row * ROW


def path(xs, values, xaxis: Axis, yaxis: Axis, top: int) -> str:
    """One line's SVG path; the pen lifts at a missing value."""
    d, pen = "", "M"
    for u, v in zip(xs, values, strict=True):
        if v is None:
            pen = "M"
            continue
        px = LEFT + xaxis.fraction(u) * (RIGHT - LEFT)
        py = BOTTOM - yaxis.fraction(v) * (BOTTOM - top)
        d, pen = d + f"{pen}{px:.1f},{py:.1f}", "L"
    return d


def x_axis(axis: Axis) -> str:
    """The horizontal axis's ticks, their labels and its title."""
    parts = []
    for v in axis.minor:
        x = LEFT + axis.fraction(v) * (RIGHT - LEFT)
        parts.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{BOTTOM}" y2="{BOTTOM + 3}"/>')
    for v, text in axis.ticks:
        x = LEFT + axis.fraction(v) * (RIGHT - LEFT)
        parts.append(
            f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{BOTTOM}" y2="{BOTTOM + 5}"/>'
            f'<text x="{x:.1f}" y="{BOTTOM + 22}" text-anchor="middle" stroke="none">'
            f"{escape(text)}</text>"
        )
    title = (
        f'<text x="{(LEFT + RIGHT) / 2}" y="{HEIGHT - 8}" text-anchor="middle">'
        f"{escape(axis.label)}</text>"
    )
    return f'<g stroke="currentColor">{"".join(parts)}</g>{title}'


def y_axis(axis: Axis, top: int) -> str:
    """The vertical axis's ticks, their labels and grid lines, and its title."""
    parts = []
    for v in axis.minor:
        y = BOTTOM - axis.fraction(v) * (BOTTOM - top)
        parts.append(f'<line x1="{LEFT - 4}" x2="{LEFT}" y1="{y:.1f}" y2="{y:.1f}"/>')
    for v, text in axis.ticks:
        y = BOTTOM - axis.fraction(v) * (BOTTOM - top)
        parts.append(
            f'<line x1="{LEFT - 6}" x2="{LEFT}" y1="{y:.1f}" y2="{y:.1f}"/>'
            f'<line x1="{LEFT}" x2="{RIGHT}" y1="{y:.1f}" y2="{y:.1f}" stroke-opacity="0.15"/>'
            f'<text x="{LEFT - 8}" y="{y + 5:.1f}" text-anchor="end" stroke="none">'
            f"{escape(text)}</text>"
        )
    title = (
        f'<text transform="translate(18 {(top + BOTTOM) / 2}) rotate(-90)" '
        f'text-anchor="middle">{escape(axis.label)}</text>'
    )
    return f'<g stroke="currentColor">{"".join(parts)}</g>{title}'


def parts(series, view: View, xs, xaxis: Axis, yaxis: Axis, top: int) -> list[str]:
    """What changes between states: the x axis, the y axis and each series' path."""
    paths = [
        path(xs, view.y[s.name], xaxis, yaxis, top) if s.name in view.y else "" for s in series
    ]
    return [x_axis(xaxis), y_axis(yaxis, top), *paths]


def svg(series: Sequence[Series], drawn: Sequence[str], alt: str) -> str:
    """The chart of one state, whose ``drawn`` parts ``parts`` returns; ``alt`` describes it."""
    key, top = legend(series)
    xaxis, yaxis, *paths = drawn
    lines = []
    for s, d in zip(series, paths, strict=True):
        dash = f' stroke-dasharray="{s.dash}"' if s.dash else ""
        lines.append(
            f'<path data-slot="" class="gfx-series" d="{d}" fill="none" stroke="{s.color}" '
            f'stroke-width="2.5"{dash}/>'
        )
    return (
        f'<svg viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{escape(alt)}" '
        f'fill="currentColor" font-size="{FONT}" '
        'style="display:block;width:100%;max-width:40rem;height:auto">'
        f'<g data-slot="">{xaxis}</g><g data-slot="">{yaxis}</g>'
        f'<line x1="{LEFT}" x2="{LEFT}" y1="{top}" y2="{BOTTOM}" stroke="currentColor"/>'
        f'<line x1="{LEFT}" x2="{RIGHT}" y1="{BOTTOM}" y2="{BOTTOM}" stroke="currentColor"/>'
        f"{''.join(lines)}{key}</svg>"
    )


# -- the same state drawn by matplotlib ------------------------------------------------------------
def picture(series, view: View, xs, xaxis: Axis, yaxis: Axis, title: str, fmt: str) -> bytes:
    """One state drawn by matplotlib under ``title``, as ``fmt`` ("png" or "pdf")."""
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FixedLocator, NullFormatter

    from gradflow.plots.style import book_style

    with book_style():
        fig, ax = plt.subplots(figsize=(5.6, 3.5))
        for s in series:
            if s.name in view.y:
                ys = [math.nan if v is None else v for v in view.y[s.name]]
                dashes = [float(v) for v in s.dash.split()] if s.dash else []
                (line,) = ax.plot(xs, ys, color=s.color, linewidth=1.8, label=s.label)
                if dashes:
                    line.set_dashes([v / 2 for v in dashes])
        for axis, set_scale, set_lim, set_label, which in (
            (xaxis, ax.set_xscale, ax.set_xlim, ax.set_xlabel, ax.xaxis),
            (yaxis, ax.set_yscale, ax.set_ylim, ax.set_ylabel, ax.yaxis),
        ):
            set_scale("log" if axis.log else "linear")
            set_lim(axis.lo, axis.hi)
            set_label(axis.label)
            which.set_major_locator(FixedLocator([v for v, _ in axis.ticks]))
            which.set_ticklabels([t for _, t in axis.ticks])
            which.set_minor_locator(FixedLocator(list(axis.minor)))
            which.set_minor_formatter(NullFormatter())
        ax.set_title(title)
        ax.legend()
        buffer = io.BytesIO()
        # no creation date or software version: two builds write the same bytes
        metadata = {"CreationDate": None} if fmt == "pdf" else {"Software": None}
        fig.savefig(buffer, format=fmt, dpi=200, metadata=metadata)
        plt.close(fig)
    return buffer.getvalue()
