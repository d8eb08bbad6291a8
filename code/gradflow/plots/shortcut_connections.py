"""Figures of the chapter on shortcut connections: bars of several series side by side."""

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np

from gradflow.plots.style import CYCLE, book_style, finish


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
