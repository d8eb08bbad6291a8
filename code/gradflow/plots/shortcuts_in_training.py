"""Figures of the chapter on shortcuts in training: training curves over seeds, the depth sweep,
and the loss landscapes (contours of a plane and slices along a line, from ``gradflow.landscape``)."""

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.colors import BoundaryNorm

from gradflow.plots.style import CYCLE, DASHES, MARKERS, book_style, family_style, finish


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
            xscale="log", yscale="log", xlabel="hidden layers", ylabel="‖∂L/∂W₁‖ (first layer)"
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


def plot_loss_slices(
    coords: Sequence[float],
    slices: dict[str, Sequence[float]],
    colors: Sequence[str] | None = None,
    figsize: tuple[float, float] = (6.4, 3.6),
) -> plt.Figure:
    """The loss along one filter-normalised direction for several networks, on a log scale."""
    coords = np.asarray(coords, dtype=float)
    if not slices:
        raise ValueError("slices is empty: give at least one named loss slice")
    colors = list(colors) if colors is not None else CYCLE
    with book_style():
        fig, ax = plt.subplots(figsize=figsize)
        for k, (name, values) in enumerate(slices.items()):
            if len(values) != len(coords):
                raise ValueError(
                    f"slice {name!r} has {len(values)} values for {len(coords)} points"
                )
            ax.plot(
                coords,
                values,
                label=name,
                color=colors[k % len(colors)],
                linestyle=DASHES[k % len(DASHES)],
                marker=MARKERS[k % len(MARKERS)],
                markevery=max(1, len(coords) // 10),
                markersize=4,
            )
        ax.set(yscale="log", xlabel="distance along direction 1 (a)", ylabel="training loss")
        ax.legend()
    return finish(fig)
