"""The book's figure style: one colour palette, legible in light and dark mode, and the figure
helpers that several chapters share.

Figures are drawn on an opaque white background with dark ink, so they read the same whichever
colour scheme the reader's browser uses; the site's CSS gives them a rounded frame in dark mode.
Colours come from the Okabe-Ito palette, which stays distinguishable under the common colour-vision
deficiencies; lines also differ in marker or dash so that nothing relies on colour alone.
In a notebook, each figure is handed out as PNG (for the site) and PDF (for the PDF edition).
Each chapter's own figures are in the module of ``gradflow.plots`` named after it.
"""

import math
from collections.abc import Sequence
from contextlib import contextmanager

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axis import Axis
from matplotlib.ticker import (
    Formatter,
    LogFormatterSciNotation,
    LogLocator,
    MaxNLocator,
    NullFormatter,
)

# Okabe & Ito (2008), "Color Universal Design".
PALETTE = {
    "blue": "#0072B2",
    "orange": "#E69F00",
    "green": "#009E73",
    "vermillion": "#D55E00",
    "sky": "#56B4E9",
    "purple": "#CC79A7",
    "yellow": "#F0E442",
    "black": "#000000",
}
# in every figure of the book: vermilion for a network *without* shortcuts, blue *with* them
PLAIN = PALETTE["vermillion"]
RESIDUAL = PALETTE["blue"]
GATED = PALETTE["green"]  # colour of a residual network with zero-initialised gates
CYCLE = [PALETTE[k] for k in ("blue", "vermillion", "green", "orange", "purple", "sky", "black")]
MARKERS = ["o", "s", "^", "D", "v", "P", "X"]
DASHES = ["-", "--", ":", "-."]  # line styles, so that lines differ by more than colour
# how an activation's name reads in a legend, a menu or a caption
ACTIVATION_LABELS = {"sigmoid": "sigmoid", "tanh": "tanh", "relu": "ReLU", "gelu": "GELU"}

STYLE = {
    "figure.facecolor": "white",
    "axes.facecolor": "white",
    "savefig.facecolor": "white",
    "figure.dpi": 110,
    "savefig.dpi": 160,
    "font.size": 11,
    "axes.titlesize": 12,
    "axes.labelsize": 11,
    "axes.edgecolor": "#333333",
    "axes.labelcolor": "#111111",
    "text.color": "#111111",
    "xtick.color": "#333333",
    "ytick.color": "#333333",
    "axes.grid": True,
    "grid.color": "#dddddd",
    "grid.linewidth": 0.8,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.prop_cycle": matplotlib.cycler(color=CYCLE),
    "legend.frameon": False,
    "figure.constrained_layout.use": True,
}


def _vector_copies_in_notebooks() -> None:
    """In a Jupyter kernel, hand out every figure as PDF beside PNG: the site shows the PNG, the
    PDF edition prints the vectors. Without a creation date, two builds write identical files."""
    try:
        from IPython import get_ipython
        from matplotlib_inline.backend_inline import set_matplotlib_formats
        from matplotlib_inline.config import InlineBackend
    except ImportError:  # plain Python, no IPython: figures are saved explicitly, nothing to do
        return
    shell = get_ipython()
    if shell is None or not hasattr(shell, "kernel"):  # a script, or IPython in a terminal
        return
    backend = InlineBackend.instance()  # kept by the kernel: `%matplotlib inline` reads it again
    backend.print_figure_kwargs = {
        **backend.print_figure_kwargs,
        "metadata": {"CreationDate": None},
    }
    backend.figure_formats = {*backend.figure_formats, "pdf"}
    set_matplotlib_formats(*backend.figure_formats)


_vector_copies_in_notebooks()


@contextmanager
def book_style():
    """Context manager: draw with the book's style (white background, Okabe-Ito colours)."""
    with plt.rc_context(STYLE):
        yield


def _spaced(ticks: np.ndarray, vmin: float, vmax: float, gap: float = 0.08) -> np.ndarray:
    """The ``ticks`` in view, at least ``gap`` of the view's (log) height apart: of two closer
    ones the decade stays (9×10⁻² gives way to 10⁻¹), else the lower one."""
    span = math.log10(vmax / vmin)
    kept: list[float] = []
    for t in np.sort(ticks):
        if not vmin * (1 - 1e-9) <= t <= vmax * (1 + 1e-9):
            continue
        if kept and math.log10(t / kept[-1]) < gap * span:
            if not math.isclose(math.log10(t), round(math.log10(t))):
                continue  # t crowds the tick below it
            kept.pop()  # a decade displaces the tick just below it
        kept.append(float(t))
    return np.array(kept)


class ReadableLogLocator(LogLocator):
    """Ticks of a log axis of which at least two fall in view: decades where the view holds two of
    them, else 1-2-5 steps where it holds three, else every digit, else (a view narrower than one
    digit) even steps."""

    def __init__(self):
        super().__init__(base=10.0, subs=(1.0,))

    def tick_values(self, vmin: float, vmax: float) -> np.ndarray:
        vmin, vmax = sorted((vmin, vmax))
        if not 0 < vmin < vmax < math.inf:
            return super().tick_values(vmin, vmax)
        decades = 10.0 ** np.arange(math.floor(math.log10(vmin)), math.ceil(math.log10(vmax)) + 1)

        if len(_spaced(decades, vmin, vmax)) >= 2:
            return super().tick_values(vmin, vmax)  # matplotlib's decades (every k-th if many)
        for subs, enough in (((1.0, 2.0, 5.0), 3), (tuple(range(1, 10)), 2)):
            ticks = _spaced(np.outer(decades, subs).ravel(), vmin, vmax)
            if len(ticks) >= enough:
                return ticks
        return MaxNLocator(nbins=3, steps=[1, 2, 2.5, 5, 10]).tick_values(vmin, vmax)


class LogTickFormatter(Formatter):
    """A log axis's tick labels: 10ⁿ for a decade, m×10ⁿ between decades (up to 3 digits)."""

    def __call__(self, x: float, pos=None) -> str:
        if not x > 0 or not math.isfinite(x):
            return ""
        exponent = math.floor(math.log10(x) + 1e-9)
        mantissa = float(f"{x / 10**exponent:.3g}")
        if mantissa == 10:  # 9.9996e-2 rounds up to the next decade
            mantissa, exponent = 1.0, exponent + 1
        power = f"10^{{{exponent}}}"
        text = power if mantissa == 1 else f"{mantissa:g}\\times{power}"
        return f"$\\mathdefault{{{text}}}$"


def readable_log_axis(axis: Axis) -> None:
    """Give a log ``axis`` at least two labelled ticks in view (``ReadableLogLocator``), labelled by
    ``LogTickFormatter``, minor ticks unlabelled. matplotlib's default labels decades only, so a view
    narrower than two decades may show one label or none."""
    if axis.get_scale() != "log":
        raise ValueError(f"readable_log_axis: the axis is on a {axis.get_scale()} scale, not log")
    axis.set_major_locator(ReadableLogLocator())
    axis.set_major_formatter(LogTickFormatter())
    axis.set_minor_formatter(NullFormatter())


def finish(fig: plt.Figure) -> plt.Figure:
    """Make every log axis of ``fig`` readable (``readable_log_axis``: unless a figure set its own
    ticks), detach ``fig`` from pyplot (so a notebook shows it once, as the cell's value) and
    return it."""
    for ax in fig.axes:
        for axis in (ax.xaxis, ax.yaxis):
            if (
                axis.get_scale() == "log"
                and type(axis.get_major_locator()) is LogLocator  # matplotlib's own, not a figure's
                and type(axis.get_major_formatter()) is LogFormatterSciNotation
            ):
                readable_log_axis(axis)
    plt.close(fig)
    return fig


def family_style(use_shortcut: bool, deep: bool) -> dict:
    """Line style of a network: colour by family, dash by depth."""
    return {
        "color": RESIDUAL if use_shortcut else PLAIN,
        "linestyle": DASHES[0] if deep else DASHES[1],
        "marker": ("o" if use_shortcut else "s") if deep else None,
        "markevery": 4,
        "markersize": 4,
    }


def plot_profiles(
    panels: dict[str, dict[str, Sequence[float]]],
    colors: dict[str, str],
    ylabel: str = "gradient norm",
    xlabel: str = "block (1 = nearest the input)",
    figsize: tuple[float, float] | None = None,
    yscale: str = "log",
) -> plt.Figure:
    """One panel per entry of ``panels``: each series is a per-block profile, log scale unless
    ``yscale`` says otherwise."""
    if not panels:
        raise ValueError("panels is empty: give at least one panel of profiles")
    missing = {label for series in panels.values() for label in series} - set(colors)
    if missing:
        raise ValueError(f"no colour given for series {sorted(missing)}")
    figsize = figsize or (3.3 * len(panels) + 0.4, 3.4)
    with book_style():
        fig, axes = plt.subplots(1, len(panels), figsize=figsize, sharey=True, squeeze=False)
        for ax, (title, series) in zip(axes[0], panels.items(), strict=True):
            for j, (label, values) in enumerate(series.items()):
                blocks = np.arange(1, len(values) + 1)
                ax.plot(
                    blocks,
                    values,
                    color=colors[label],
                    marker=MARKERS[j % len(MARKERS)],
                    markersize=4 if len(values) <= 24 else 2.5,
                    linestyle=DASHES[j % len(DASHES)],
                    label=label,
                )
            ax.set_yscale(yscale)
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # blocks are whole numbers
            ax.set(title=title, xlabel=xlabel)
        axes[0, 0].set_ylabel(ylabel)
        axes[0, 0].legend()
    return finish(fig)
