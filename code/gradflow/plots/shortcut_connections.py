"""Figures of the chapter on shortcut connections: bars of several series side by side, and the
depth explorer (``gradflow.explorer``): each layer's gradient, with a slider for the depth and a menu
for the activation."""

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np

from gradflow.axes import integer_axis, log_axis, sci
from gradflow.chart import Series, View
from gradflow.explorer import Explorer, Menu, Slider
from gradflow.plots.style import ACTIVATION_LABELS, CYCLE, PLAIN, RESIDUAL, book_style, finish


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


# -- The depth explorer ------------------------------------------------------


def depth_explorer(profiles: dict, depth: int = 10, activation: str | None = None) -> Explorer:
    """Each layer's ``mean |dL/dW|`` without and with shortcuts: a slider sets the depth, a menu the
    activation. ``profiles[activation][depth]`` holds the per-layer values ``"plain"`` and
    ``"residual"``, as ``gradflow.experiments.shortcut_connections.depth_profiles`` returns them;
    a layer whose gradient is exactly 0 is a gap in its line."""
    if not isinstance(profiles, dict) or not profiles:
        raise TypeError("profiles must be a non-empty dict {activation: {depth: profiles}}")
    depths = sorted(next(iter(profiles.values())))
    if any(sorted(by_depth) != depths for by_depth in profiles.values()):
        raise ValueError("every activation needs profiles at the same depths")
    label = {name: ACTIVATION_LABELS.get(name, name) for name in profiles}

    def caption(d: int, name: str) -> str:
        p, r = profiles[name][d]["plain"][0], profiles[name][d]["residual"][0]
        text = (
            f"Depth {d}, {label[name]}: the first layer's mean |∂ℒ/∂W| is "
            f"{sci(p) if p > 0 else 'exactly 0'} without shortcuts and "
            f"{sci(r) if r > 0 else 'exactly 0'} with them"
        )
        if p > 0 and r > 0:
            ratio = max(r / p, p / r)
            times = sci(ratio) if ratio >= 1000 else f"{ratio:#.3g}"
            return text + f", {times} times {'larger' if r >= p else 'smaller'}."
        return text + "."

    views = {
        (d, name): View(
            caption(d, name),
            {kind: [v or None for v in by_depth[d][kind]] for kind in ("plain", "residual")},
            xaxis=integer_axis("layer (1 = next to the input)", 1, d),
        )
        for name, by_depth in profiles.items()
        for d in depths
    }
    values = [
        v for by_depth in profiles.values() for d in depths for s in by_depth[d].values() for v in s
    ]
    return Explorer(
        [
            Slider("depth", "Depth", depths, [f"{d} layers" for d in depths]),
            Menu("activation", "Activation", label),
        ],
        [
            Series("plain", "without shortcuts", PLAIN),
            Series("residual", "with shortcuts", RESIDUAL, dash="7 4"),
        ],
        views,
        y=log_axis("mean |∂ℒ/∂W|", values),  # one axis for every setting: it never rescales
        start={"depth": depth, "activation": activation or next(iter(profiles))},
        alt="Line chart, logarithmic vertical axis: the mean absolute weight gradient of each "
        "layer, from the input to the output, without shortcuts (vermilion, solid) and with them "
        "(blue, dashed)",
    )
