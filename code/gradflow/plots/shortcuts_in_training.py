"""Figures of the chapter on shortcuts in training: training curves over seeds, the depth sweep,
and the loss landscapes (contours of a plane and slices along a line, from ``gradflow.landscape``),
and an explorer of the slices by depth, seed and training (``gradflow.explorer``)."""

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.colors import BoundaryNorm

from gradflow.axes import Axis, log_axis, sci
from gradflow.chart import Series, View
from gradflow.explorer import Explorer, Menu, Slider, Toggle
from gradflow.plots.style import (
    DASHES,
    PLAIN,
    RESIDUAL,
    book_style,
    family_style,
    finish,
)


def plot_training_curves(
    runs: dict[str, list], figsize: tuple[float, float] = (9.6, 3.8)
) -> plt.Figure:
    """Training loss (log scale) and test accuracy over steps: median line, band from min to max."""
    if not runs:
        raise ValueError("runs is empty")
    deepest = max(rs[0].spec.depth for rs in runs.values())
    with book_style():
        fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=figsize)
        for label, rs in runs.items():
            steps = np.array(rs[0].history.steps)
            style = family_style(rs[0].spec.use_shortcut, rs[0].spec.depth == deepest)
            for ax, key in ((ax_loss, "train_loss"), (ax_acc, "test_accuracy")):
                values = np.array([getattr(r.history, key) for r in rs])  # (seeds, records)
                ax.plot(steps, np.nanmedian(values, 0), label=label, **style)
                ax.fill_between(
                    steps,
                    np.nanmin(values, 0),
                    np.nanmax(values, 0),
                    color=style["color"],
                    alpha=0.15,
                )
        ax_loss.set(yscale="log", xlabel="training step", ylabel="training loss (cross-entropy)")
        ax_acc.set(xlabel="training step", ylabel="test accuracy", ylim=(0, 1))
        ax_acc.legend(loc="center right", bbox_to_anchor=(1.0, 0.62))
    return finish(fig)


def plot_depth_sweep(
    results: dict,
    colors: Sequence[str],
    figsize: tuple[float, float] = (9.6, 3.8),
) -> plt.Figure:
    """First layer's gradient norm and last hidden layer's RMS against depth, log-log, per family."""
    if not results:
        raise ValueError("results is empty")
    if len(colors) < len(results):
        raise ValueError(f"need {len(results)} colors, got {len(colors)}")
    markers = ["s", "o", "^", "D"]  # plain first, as in the other figures of the lesson
    with book_style():
        fig, (ax_g, ax_a) = plt.subplots(1, 2, figsize=figsize)
        for k, (label, res) in enumerate(results.items()):
            style = {
                "color": colors[k],
                "marker": markers[k % 4],
                "linestyle": DASHES[k % len(DASHES)],
            }
            ax_g.plot(res.depths, res.first_grad_norm, label=label, **style)
            ax_a.plot(res.depths, res.hidden_rms, label=label, **style)
        ax_g.set(
            xscale="log",
            yscale="log",
            xlabel="hidden layers",
            ylabel=r"$\|\partial \mathcal{L} / \partial W_1\|$ (first layer)",
        )
        ax_a.set(
            xscale="log", yscale="log", xlabel="hidden layers", ylabel="RMS of last hidden layer"
        )
        ax_g.legend(fontsize=9)
    return finish(fig)


def plot_loss_contours(
    planes: dict[str, np.ndarray],
    coords: Sequence[float],
    levels: Sequence[float],
    figsize: tuple[float, float] = (8.8, 4.0),
) -> plt.Figure:
    """Contour plots of several loss planes side by side, all with the same contour ``levels``."""
    if not planes:
        raise ValueError("planes is empty: give at least one named loss plane")
    coords, levels = np.asarray(coords, dtype=float), np.asarray(levels, dtype=float)
    with book_style():
        fig, axes = plt.subplots(1, len(planes), figsize=figsize, sharex=True, sharey=True)
        axes = np.atleast_1d(axes)
        for ax, (name, plane) in zip(axes, planes.items(), strict=True):
            # losses above the top level are drawn in the top level's colour
            # one colour per band between two levels, whatever their spacing (e.g. geometric)
            norm = BoundaryNorm(levels, plt.get_cmap("viridis").N, extend="max")
            cs = ax.contourf(
                coords, coords, plane, levels=levels, cmap="viridis", norm=norm, extend="max"
            )
            ax.contour(coords, coords, plane, levels=levels, colors="white", linewidths=0.4)
            ax.plot(0, 0, marker="*", color="white", markeredgecolor="black", markersize=11)
            ax.set(title=name, xlabel="direction 1 (a)", aspect="equal")
            ax.grid(False)
        axes[0].set_ylabel("direction 2 (b)")
        fig.colorbar(cs, ax=list(axes), label="training loss (cross-entropy)", shrink=0.9)
    return finish(fig)


def _loss(value: float) -> str:
    """A loss as the caption reads it: three significant digits, powers of ten when far from 1."""
    return f"{value:#.3g}".rstrip(".") if 0.01 <= value < 10_000 else sci(value)


def landscape_explorer(
    coords: Sequence[float],
    lines: dict,
    steps: int,
    depth: int | None = None,
    seed: int | None = None,
) -> Explorer:
    """The loss along one filter-normalised direction without and with shortcuts: a menu sets the
    depth, a slider the seed, a box whether the networks are trained (for ``steps`` steps).
    ``lines[(depth, seed, trained)]`` holds the losses at ``coords`` of ``"plain"`` and
    ``"residual"``, as ``gradflow.experiments.shortcuts_in_training.loss_lines`` returns them."""
    if not isinstance(lines, dict) or not lines:
        raise TypeError("lines must be a non-empty dict {(depth, seed, trained): {family: losses}}")
    coords = [float(a) for a in coords]
    if 0.0 not in coords or len(coords) < 3:
        raise ValueError(f"coords must hold 0 (the weights themselves) and both ends: {coords}")
    centre = coords.index(0.0)
    for key, pair in lines.items():
        if not isinstance(pair, dict) or set(pair) != {"plain", "residual"}:
            raise ValueError(f"lines[{key}] must hold exactly 'plain' and 'residual'")
    depths = sorted({d for d, _, _ in lines})
    seeds = sorted({s for _, s, _ in lines})

    def caption(d: int, s: int, trained: bool) -> str:
        p, r = lines[(d, s, trained)]["plain"], lines[(d, s, trained)]["residual"]
        when = f"after {steps} training steps" if trained else "at initialisation"
        return (
            f"{d} hidden layers, seed {s}, {when}: at the weights themselves the loss is "
            f"{_loss(p[centre])} without shortcuts and {_loss(r[centre])} with them; at a distance "
            f"of {coords[-1]:g} (the mean of both ends) it is {_loss((p[0] + p[-1]) / 2)} and "
            f"{_loss((r[0] + r[-1]) / 2)}."
        )

    views = {
        key: View(caption(*key), {f: [float(v) for v in pair[f]] for f in pair}, x=coords)
        for key, pair in lines.items()
    }
    ticks = np.linspace(coords[0], coords[-1], 5)
    xaxis = Axis(
        "distance along the direction (a)",
        coords[0],
        coords[-1],
        ticks=[(float(t), f"{t:g}".replace("-", "−")) for t in ticks],
    )
    values = [float(v) for pair in lines.values() for f in pair.values() for v in f]
    return Explorer(
        [
            Menu("depth", "Depth", {d: f"{d} hidden layers" for d in depths}),
            Slider("seed", "Seed", seeds, [f"seed {s}" for s in seeds]),
            Toggle("trained", "trained", ("at initialisation", f"after {steps} steps")),
        ],
        [
            Series("plain", "without shortcuts", PLAIN),
            Series("residual", "with shortcuts", RESIDUAL, dash="7 4"),
        ],
        views,
        x=xaxis,
        y=log_axis("training loss", values),  # one axis for every setting: it never rescales
        start={
            "depth": depths[0] if depth is None else depth,
            "seed": seeds[0] if seed is None else seed,
            "trained": True,
        },
        alt="Line chart, logarithmic vertical axis: the training loss along a filter-normalised "
        "direction through the weights, from −1 to 1, without shortcuts (vermilion, solid) and with "
        "them (blue, dashed)",
    )
