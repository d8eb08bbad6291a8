"""Figure helpers shared by the lessons: one style, one colour palette, legible in light and dark mode.

Figures are drawn on an opaque white background with dark ink, so they read the same whichever
colour scheme the reader's browser uses; the site's CSS gives them a rounded frame in dark mode.
Colours come from the Okabe-Ito palette, which stays distinguishable under the common colour-vision
deficiencies; lines also differ in marker or dash so that nothing relies on colour alone.
"""

from collections.abc import Sequence
from contextlib import contextmanager

import matplotlib
import matplotlib.pyplot as plt
import numpy as np

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
PLAIN = PALETTE[
    "vermillion"
]  # colour of a network *without* shortcuts, in every figure of the book
RESIDUAL = PALETTE["blue"]  # colour of a network *with* shortcuts
CYCLE = [PALETTE[k] for k in ("blue", "vermillion", "green", "orange", "purple", "sky", "black")]
MARKERS = ["o", "s", "^", "D", "v", "P", "X"]

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


@contextmanager
def book_style():
    """Context manager: draw with the book's style (white background, Okabe-Ito colours)."""
    with plt.rc_context(STYLE):
        yield


def finish(fig: plt.Figure) -> plt.Figure:
    """Detach ``fig`` from pyplot (so a notebook shows it once, as the cell's value) and return it."""
    plt.close(fig)
    return fig


def grouped_bars(
    labels: Sequence[str],
    series: dict[str, Sequence[float]],
    colors: Sequence[str] | None = None,
    ylabel: str = "",
    xlabel: str = "",
    title: str = "",
    log: bool = True,
    figsize: tuple[float, float] = (6.4, 3.6),
) -> plt.Figure:
    """Bars of several series side by side for each label, on a log scale by default."""
    if not series:
        raise ValueError("series is empty: give at least one named list of values")
    lengths = {name: len(values) for name, values in series.items()}
    if any(n != len(labels) for n in lengths.values()):
        raise ValueError(f"every series needs {len(labels)} values (one per label), got {lengths}")
    if log and any(v <= 0 for values in series.values() for v in values):
        raise ValueError("a log scale cannot show values <= 0: pass log=False or drop them")
    colors = list(colors) if colors is not None else CYCLE
    hatches = ["", "//", "..", "xx"]
    with book_style():
        fig, ax = plt.subplots(figsize=figsize)
        k = len(series)
        width = 0.8 / k
        pos = np.arange(len(labels))
        for j, (name, values) in enumerate(series.items()):
            ax.bar(
                pos + (j - (k - 1) / 2) * width,
                values,
                width,
                label=name,
                color=colors[j % len(colors)],
                hatch=hatches[j % len(hatches)],
                edgecolor="white",
                linewidth=0.5,
            )
        ax.set_xticks(pos, labels)
        if log:
            ax.set_yscale("log")
        ax.set(xlabel=xlabel, ylabel=ylabel, title=title)
        ax.grid(axis="x", visible=False)
        ax.legend()
    return finish(fig)
