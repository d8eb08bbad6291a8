"""Explorable figures: a line chart whose controls (a slider, a menu, a toggle) choose what it shows.

Every state the reader can reach is drawn here, in Python, when the book is built: each line's SVG
path, each axis with its ticks and labels, and a caption that says the state in words. The page
carries them as JSON, and one small shared script (``static/explorer.js``, with ``explorer.css``;
the book's build links both from the pages that hold an explorer) only switches between them. So
each formula lives in one language, and the figure needs no server, no kernel and no request: it
works offline and from ``file://``. The controls are labelled form controls (keyboard and screen
reader), and the caption is an ``aria-live`` region that is read out as they move. Text and axes
take the page's colour, so the figure reads in light and dark mode; the SVG scales to a phone's
width. Where no script runs (a notebook, the PDF edition) the figure is its first state: as HTML
without controls, or as a PNG or PDF picture drawn by matplotlib. For example::

    views = {(d, a): View(f"{d} layers, {a}", {"plain": p[a][d]}) for d in depths for a in acts}
    Explorer(
        [Slider("depth", "Depth", depths), Menu("act", "Activation", {a: a for a in acts})],
        [Series("plain", "without shortcuts", "#D55E00")], views,
        x=Axis("layer", 1, 30), y=log_axis("gradient", values), alt="Line chart: ...",
    )
"""

import io
import itertools
import json
import math
import numbers
import shutil
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from html import escape
from importlib.resources import files
from pathlib import Path

ASSETS = ("explorer.js", "explorer.css")  # in gradflow/static: what a page links, once
# the drawing in SVG units: its width and height, and the plot area's left, right and bottom edges
# (its top edge sits below the legend)
WIDTH, HEIGHT, LEFT, RIGHT, BOTTOM = 560, 350, 80, 544, 288
FONT = 17  # the SVG's font size: about 11 px on a 390 px wide phone
ROW = 22  # the height of a row of the legend


def asset(name: str):
    """The ``pathlib.Path`` of one of the shared files the page links (``ASSETS``)."""
    return Path(str(files("gradflow") / "static" / name))


# -- numbers as the reader reads them --------------------------------------------------------------
def decade(k: int) -> str:
    """10 to the power ``k``, with a superscript exponent: '10⁻⁵'."""
    return "10" + str(k).translate(str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹"))


def sci(value: float) -> str:
    """Three significant digits in scientific notation: '1.23 × 10⁻⁵'."""
    mantissa, exponent = f"{value:.2e}".split("e")
    return f"{mantissa} × {decade(int(exponent))}"


# -- the pieces of an explorer ---------------------------------------------------------------------
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
        if not (_real(self.lo) and _real(self.hi) and self.lo < self.hi):
            raise ValueError(f"axis {self.label!r}: needs finite lo < hi, got {self.lo}, {self.hi}")
        if self.log and self.lo <= 0:
            raise ValueError(f"axis {self.label!r}: a logarithmic axis starts above 0")
        for value in [*(v for v, _ in self.ticks), *self.minor]:
            if not self.holds(value):
                raise ValueError(f"axis {self.label!r}: tick {value} is outside its range")

    def holds(self, value: float) -> bool:
        """Whether ``value`` lies on the axis (within a millionth of its length)."""
        if not _real(value) or (self.log and value <= 0):
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


class _Control:
    """A control: its ``name`` in the views' keys, its ``label`` on the page, the ``values`` it
    takes (hashable, distinct) and how each reads (``texts``)."""

    def __init__(self, name: str, label: str, values: Sequence[Hashable], texts: Sequence[str]):
        if not isinstance(name, str) or not name or not isinstance(label, str) or not label:
            raise TypeError(
                f"a control needs a name and a label (non-empty str): {name!r}, {label!r}"
            )
        self.name, self.label, self.values = name, label, list(values)
        self.texts = [str(t) for t in texts]
        if not self.values or len(set(self.values)) != len(self.values):
            raise ValueError(
                f"control {name!r} needs one or more distinct values, got {self.values}"
            )
        if len(self.texts) != len(self.values):
            raise ValueError(f"control {name!r}: {len(self.values)} values but {len(texts)} texts")

    def html(self, k: int) -> str:
        raise NotImplementedError


class Slider(_Control):
    """A slider over ``values`` in their order; ``texts`` say how each value reads."""

    def __init__(self, name, label, values, texts=None):
        super().__init__(name, label, values, texts or [str(v) for v in values])

    def html(self, k: int) -> str:
        text = escape(self.texts[k])
        return (
            f'<label>{escape(self.label)} <input type="range" min="0" max="{len(self.values) - 1}" '
            f'step="1" value="{k}" aria-valuetext="{text}"></label>'
            f'<output aria-hidden="true">{text}</output>'
        )


class Menu(_Control):
    """A menu of ``options``: {value: the text the reader sees}."""

    def __init__(self, name, label, options: Mapping[Hashable, str]):
        super().__init__(name, label, list(options), list(options.values()))

    def html(self, k: int) -> str:
        options = "".join(
            f'<option value="{escape(str(v))}"{" selected" if i == k else ""}>{escape(t)}</option>'
            for i, (v, t) in enumerate(zip(self.values, self.texts, strict=True))
        )
        return f"<label>{escape(self.label)} <select>{options}</select></label>"


class Toggle(_Control):
    """A check box, off (``False``) or on (``True``); ``texts`` say each state in a title."""

    def __init__(self, name, label, texts=("off", "on")):
        super().__init__(name, label, [False, True], texts)

    def html(self, k: int) -> str:
        checked = " checked" if k else ""
        return f'<label><input type="checkbox"{checked}> {escape(self.label)}</label>'


def _real(value) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)


# -- the explorer ----------------------------------------------------------------------------------
class Explorer:
    """A chart of precomputed ``views`` whose ``controls`` choose the one shown.

    ``views`` maps every combination of the controls' values, a tuple in the order of ``controls``
    (a bare value if there is one control), to a ``View``; ``series`` lists the lines a view may
    draw. ``x`` and ``y`` are the axes of every view that brings none of its own; ``start`` sets
    controls to other values than their first for the first state; ``alt`` describes the chart to a
    screen reader. A notebook cell that ends with an explorer shows it.
    """

    def __init__(self, controls, series, views, x=None, y=None, start=None, alt=""):
        self.controls, self.series = list(controls), list(series)
        if not self.controls or not all(isinstance(c, _Control) for c in self.controls):
            raise TypeError("controls must be a non-empty list of Slider, Menu and Toggle")
        if not self.series or not all(isinstance(s, Series) for s in self.series):
            raise TypeError("series must be a non-empty list of Series")
        for things, what in ((self.controls, "control"), (self.series, "series")):
            names = [t.name for t in things]
            if len(set(names)) != len(names):
                raise ValueError(f"two {what} share a name: {names}")
        if not isinstance(alt, str) or not alt.strip():
            raise ValueError("alt must describe the chart in words for a screen reader")
        self.alt = alt
        self.views = self._check_views(views, x, y)
        start = dict(start or {})
        self.start = []
        for c in self.controls:
            value = start.pop(c.name, c.values[0])
            if value not in c.values:
                raise ValueError(
                    f"start: {value!r} is not a value of control {c.name!r}: {c.values}"
                )
            self.start.append(c.values.index(value))
        if start:
            raise ValueError(f"start names no control: {sorted(start)}")

    def _check_views(self, views, x, y) -> dict[tuple, tuple[View, Axis, Axis, list]]:
        """Each key as a tuple of values, with its view, its axes and the x positions."""
        if not isinstance(views, Mapping):
            raise TypeError("views must be a mapping {control values: View}")
        out, names = {}, {s.name for s in self.series}
        for key, view in views.items():
            key = key if isinstance(key, tuple) else (key,)
            where = f"view {key}"
            if len(key) != len(self.controls):
                raise ValueError(
                    f"{where}: its key needs one value per control ({len(self.controls)})"
                )
            for value, c in zip(key, self.controls, strict=True):
                if value not in c.values:
                    raise ValueError(f"{where}: {value!r} is not a value of control {c.name!r}")
            if not isinstance(view, View):
                raise TypeError(f"{where} is a {type(view).__name__}, not a View")
            if not isinstance(view.caption, str) or not view.caption.strip():
                raise TypeError(f"{where}: its caption must be a non-empty str")
            if not isinstance(view.y, Mapping) or set(view.y) - names:
                raise ValueError(f"{where}: y names series that are not among {sorted(names)}")
            xaxis, yaxis = view.xaxis or x, view.yaxis or y
            if not isinstance(xaxis, Axis) or not isinstance(yaxis, Axis):
                raise TypeError(f"{where} has no x and y Axis (give them to the view or explorer)")
            lengths = {len(v) for v in view.y.values()}
            xs = list(view.x) if view.x is not None else list(range(1, max(lengths, default=0) + 1))
            for name, values in view.y.items():
                if len(values) != len(xs):
                    raise ValueError(
                        f"{where}: ragged series {name!r}, {len(values)} values at "
                        f"{len(xs)} positions"
                    )
                for i, (u, v) in enumerate(zip(xs, values, strict=True)):
                    if not _real(u) or (v is not None and not _real(v)):
                        raise ValueError(f"{where}: {name!r}[{i}] is ({u!r}, {v!r}), not finite")
                    if not xaxis.holds(u) or (v is not None and not yaxis.holds(v)):
                        raise ValueError(f"{where}: {name!r}[{i}] = ({u}, {v}) is off its axes")
            out[key] = (view, xaxis, yaxis, xs)
        missing = set(itertools.product(*(c.values for c in self.controls))) - set(out)
        if missing:
            raise ValueError(
                f"no view for {len(missing)} settings of the controls, e.g. {min(missing, key=str)}"
            )
        return out

    # -- the drawing, in SVG units -----------------------------------------------------------------
    def _legend(self) -> tuple[str, int]:
        """The legend's SVG, in rows above the plot, and the plot's top edge below it."""
        parts, x, row = [], LEFT, 0
        for k, s in enumerate(self.series):
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

    def _path(self, xs, values, xaxis: Axis, yaxis: Axis, top: int) -> str:
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

    @staticmethod
    def _xaxis(axis: Axis) -> str:
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

    @staticmethod
    def _yaxis(axis: Axis, top: int) -> str:
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

    def _parts(self, key: tuple, top: int) -> list[str]:
        """What changes between states: the x axis, the y axis and each series' path."""
        view, xaxis, yaxis, xs = self.views[key]
        paths = [
            self._path(xs, view.y[s.name], xaxis, yaxis, top) if s.name in view.y else ""
            for s in self.series
        ]
        return [self._xaxis(xaxis), self._yaxis(yaxis, top), *paths]

    def _key(self, indices) -> tuple:
        return tuple(c.values[i] for c, i in zip(self.controls, indices, strict=True))

    def data(self) -> dict:
        """What the page's script reads: every state, nested by the controls' positions, as
        ``[caption, indices into pool]``, the distinct drawn parts in ``pool``, and each control's
        texts."""
        _, top = self._legend()
        pool: dict[str, int] = {}

        def state(indices: tuple) -> list:
            key = self._key(indices)
            parts = [pool.setdefault(p, len(pool)) for p in self._parts(key, top)]
            return [self.views[key][0].caption, parts]

        def nest(prefix: tuple) -> list:
            if len(prefix) == len(self.controls):
                return state(prefix)
            return [nest((*prefix, i)) for i in range(len(self.controls[len(prefix)].values))]

        states = nest(())
        return {"controls": [c.texts for c in self.controls], "pool": list(pool), "states": states}

    def svg(self) -> str:
        """The chart in its first state."""
        legend, top = self._legend()
        xaxis, yaxis, *paths = self._parts(self._key(self.start), top)
        lines = []
        for s, d in zip(self.series, paths, strict=True):
            dash = f' stroke-dasharray="{s.dash}"' if s.dash else ""
            lines.append(
                f'<path data-slot="" class="gfx-series" d="{d}" fill="none" stroke="{s.color}" '
                f'stroke-width="2.5"{dash}/>'
            )
        return (
            f'<svg viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{escape(self.alt)}" '
            f'fill="currentColor" font-size="{FONT}" '
            'style="display:block;width:100%;max-width:40rem;height:auto">'
            f'<g data-slot="">{xaxis}</g><g data-slot="">{yaxis}</g>'
            f'<line x1="{LEFT}" x2="{LEFT}" y1="{top}" y2="{BOTTOM}" stroke="currentColor"/>'
            f'<line x1="{LEFT}" x2="{RIGHT}" y1="{BOTTOM}" y2="{BOTTOM}" stroke="currentColor"/>'
            f"{''.join(lines)}{legend}</svg>"
        )

    def caption(self) -> str:
        """The first state in words."""
        return self.views[self._key(self.start)][0].caption

    # -- what a notebook, the site and the PDF edition show ----------------------------------------
    def _repr_html_(self) -> str:
        controls = "".join(
            f'<span class="gfx-control">{c.html(k)}</span>'
            for c, k in zip(self.controls, self.start, strict=True)
        )
        # "</" in the data would end the script element early; JSON reads "<\/" as "</"
        data = json.dumps(self.data(), ensure_ascii=False, separators=(",", ":"))
        data = data.replace("</", "<\\/")
        # the controls stay hidden until the script (explorer.js) runs: without it, a still figure
        return (
            f'<figure class="gradflow-explorer"><div class="gfx-controls" hidden>{controls}</div>'
            f'{self.svg()}<figcaption aria-live="polite">{escape(self.caption())}</figcaption>'
            f'<script type="application/json" class="gfx-data">{data}</script></figure>'
        )

    def _picture(self, fmt: str) -> bytes:
        """The first state drawn by matplotlib, as ``fmt`` ("png" or "pdf")."""
        import matplotlib.pyplot as plt
        from matplotlib.ticker import FixedLocator, NullFormatter

        from gradflow.plots.style import book_style

        key = self._key(self.start)
        view, xaxis, yaxis, xs = self.views[key]
        with book_style():
            fig, ax = plt.subplots(figsize=(5.6, 3.5))
            for s in self.series:
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
            ax.set_title(
                ", ".join(c.texts[k] for c, k in zip(self.controls, self.start, strict=True))
            )
            ax.legend()
            buffer = io.BytesIO()
            # no creation date or software version: two builds write the same bytes
            metadata = {"CreationDate": None} if fmt == "pdf" else {"Software": None}
            fig.savefig(buffer, format=fmt, dpi=200, metadata=metadata)
            plt.close(fig)
        return buffer.getvalue()

    def _repr_pdf_(self) -> bytes:
        """The first state as vectors, which the PDF edition prints."""
        return self._picture("pdf")

    def _repr_png_(self) -> bytes:
        """The first state as a picture, for notebook viewers that run no script."""
        return self._picture("png")

    def __repr__(self) -> str:
        return self.caption()

    def save(self, path, title: str = "Explorer"):
        """Write the explorer as a web page of its own at ``path`` (returned as a ``pathlib.Path``),
        the shared script and style copied beside it (as the book's build puts them in
        ``_static``)."""
        path = Path(path)
        for name in ASSETS:
            shutil.copyfile(asset(name), path.parent / name)
        path.write_text(
            '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" '
            f'content="width=device-width, initial-scale=1"><title>{escape(title)}</title>'
            '<link rel="stylesheet" href="explorer.css"><script defer src="explorer.js"></script>'
            "<style>body{max-width:46rem;margin:1rem auto;padding:0 1rem;font-family:sans-serif;"
            "background:#fff;color:#222}html[data-theme=dark] body{background:#121212;"
            f"color:#ced6dd}}</style></head><body><main>{self._repr_html_()}</main></body></html>",
            encoding="utf-8",
        )
        return path
