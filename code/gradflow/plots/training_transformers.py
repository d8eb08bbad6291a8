"""Figures of the chapter on training transformers: loss curves over seeds beside the final test
accuracies, for GPTs of several depths with and without shortcuts; the positions' vectors of one
problem block by block, converging without shortcuts (``plot_convergence``); and the training
explorer (``gradflow.explorer``): the loss curves of one depth, with a slider for the depth and a
menu for the seed."""

import itertools
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

import matplotlib.pyplot as plt
import numpy as np

from gradflow.axes import Axis, integer_axis
from gradflow.chart import Series, View
from gradflow.explorer import Explorer, Menu, Slider
from gradflow.plots.style import PLAIN, RESIDUAL, book_style, family_style, finish

if TYPE_CHECKING:  # result types of the training drawn here
    from gradflow.experiments.training_transformers import Trained
    from gradflow.train import History


def plot_loss_curves(
    runs: "dict[str, Sequence[History]]",
    styles: dict[str, dict],
    guess: float | None = None,
    figsize: tuple[float, float] = (10.4, 3.8),
) -> plt.Figure:
    """Left, training loss over steps (log scale; mean line, band from the seeds' min to max); right,
    every seed's final test accuracy as a dot, the mean as a bar. ``styles`` holds each run's
    keyword arguments for ``plot``; ``guess`` marks the loss of a model that guesses uniformly."""
    if not runs:
        raise ValueError("runs is empty")
    missing = set(runs) - set(styles)
    if missing:
        raise ValueError(f"no style given for runs {sorted(missing)}")
    with book_style():
        fig, (ax_loss, ax_acc) = plt.subplots(
            1, 2, figsize=figsize, gridspec_kw={"width_ratios": [1.6, 1]}
        )
        if guess is not None:
            ax_loss.axhline(guess, color="#555555", linewidth=1, linestyle=":")
            ax_loss.annotate(
                "guessing", (0, guess), xytext=(2, 3), textcoords="offset points", fontsize=9
            )
        for j, (label, histories) in enumerate(runs.items()):
            style = styles[label]
            steps = np.array(histories[0].steps)
            loss = np.array([h.train_loss for h in histories])  # (seeds, records)
            ax_loss.plot(steps, loss.mean(0), label=label, **style)
            ax_loss.fill_between(steps, loss.min(0), loss.max(0), color=style["color"], alpha=0.15)
            accuracy = [h.test_accuracy[-1] for h in histories]
            ax_acc.barh(j, np.mean(accuracy), color=style["color"], alpha=0.35, height=0.6)
            ax_acc.plot(accuracy, [j] * len(accuracy), "o", color=style["color"], markersize=5)
        ax_loss.set(yscale="log", xlabel="training step", ylabel="training loss (cross-entropy)")
        ax_loss.legend(fontsize=9)
        ax_acc.set_yticks(range(len(runs)), list(runs), fontsize=9)
        ax_acc.invert_yaxis()  # the first run on top, as in the legend
        ax_acc.set(xlim=(0, 1.04), xlabel="test answers wholly right (dots: seeds)")
        ax_acc.grid(axis="y", visible=False)
    return finish(fig)


def plot_shortcut_training(
    grid: "dict[tuple[int, bool], Sequence[Trained]]", guess: float | None = None
) -> plt.Figure:
    """Loss curves and accuracies of GPTs of several depths, with and without shortcuts."""
    deepest = max(depth for depth, _ in grid)
    runs, styles = {}, {}
    for (depth, use_shortcut), trained in grid.items():
        label = f"{depth} blocks, {'with' if use_shortcut else 'without'} shortcuts"
        runs[label] = [t.history for t in trained]
        styles[label] = family_style(use_shortcut, depth == deepest)
    return plot_loss_curves(runs, styles, guess)


def training_explorer(
    grid: "dict[tuple[int, bool], Sequence[Trained]]",
    seeds: Sequence[int],
    n_digits: int,
    depth: int | None = None,
) -> Explorer:
    """The training loss over the steps, without and with shortcuts, as a share of the loss of
    guessing, ``ln n_digits``: a slider sets the depth, a menu the seed (or the median over the
    seeds, record by record). ``grid[depth, use_shortcut]`` holds one run per seed of ``seeds``, in
    their order, as ``gradflow.experiments.training_transformers.shortcut_grid`` returns them."""
    if not isinstance(grid, dict) or not grid:
        raise TypeError("grid must be a non-empty dict {(depth, use_shortcut): runs}")
    if not isinstance(n_digits, int) or isinstance(n_digits, bool) or n_digits < 2:
        raise ValueError(f"n_digits must be an int of at least 2, got {n_digits!r}")
    seeds, depths = list(seeds), sorted({d for d, _ in grid})
    if set(grid) != {(d, s) for d in depths for s in (False, True)}:
        raise ValueError("grid needs runs with and without shortcuts at every depth")
    if len(depths) < 2 or len(seeds) < 2:  # else a control would have nothing to choose from
        raise ValueError(f"give two depths or more and two seeds or more: {depths}, {seeds}")
    steps = grid[depths[0], False][0].history.steps
    guess = math.log(n_digits)
    ratios = {}  # (depth, use_shortcut) -> (seeds, records): each record's loss over ln n_digits
    for key, runs in grid.items():
        if len(runs) != len(seeds):
            raise ValueError(f"grid{key} holds {len(runs)} runs for {len(seeds)} seeds")
        if any(r.history.steps != steps for r in runs):
            raise ValueError(f"grid{key}: every run needs records at the same steps {steps}")
        ratios[key] = np.array([r.history.train_loss for r in runs]) / guess
    values = np.concatenate([r.ravel() for r in ratios.values()])
    if not np.all(np.isfinite(values)) or values.min() < 0:
        raise ValueError("every recorded training loss must be finite and not negative")
    depth_text = {d: f"{d} block{'' if d == 1 else 's'}" for d in depths}
    runs_text = {"median": f"median of {len(seeds)} seeds"} | {s: f"seed {s}" for s in seeds}

    def curve(d: int, use_shortcut: bool, run) -> np.ndarray:
        r = ratios[d, use_shortcut]
        return np.median(r, axis=0) if run == "median" else r[seeds.index(run)]

    def caption(d: int, run) -> str:
        without, with_ = curve(d, False, run)[-1], curve(d, True, run)[-1]
        return (
            f"{depth_text[d]}, {runs_text[run]}: after {steps[-1]} steps the training loss is "
            f"{without:#.2g} times the loss of guessing (ln {n_digits}) without shortcuts and "
            f"{with_:#.2g} times it with them."
        )

    views = {
        (d, run): View(
            caption(d, run),
            {
                "without": [float(v) for v in curve(d, False, run)],
                "with": [float(v) for v in curve(d, True, run)],
            },
            x=steps,
        )
        for d in depths
        for run in runs_text
    }
    # a linear axis from 0 to just above 1, the loss of guessing (the first steps can lie above it)
    hi = max(1.1, math.ceil(10 * values.max()) / 10)
    step = next(
        m * 10.0**k for k in itertools.count(-1) for m in (2, 5, 10) if hi / (m * 10.0**k) < 7
    )
    ticks = [(k * step, f"{k * step:g}") for k in range(math.floor(hi / step + 1e-9) + 1)]
    y = Axis(f"training loss ÷ ln {n_digits}", 0.0, hi, ticks=ticks)
    deepest = depths[-1] if depth is None else depth
    return Explorer(
        [
            Slider("depth", "Depth", depths, list(depth_text.values())),
            Menu("run", "Runs", runs_text),
        ],
        [
            Series("without", "without shortcuts", PLAIN),
            Series("with", "with shortcuts", RESIDUAL, dash="7 4"),
        ],
        views,
        x=integer_axis("training step", steps[0], steps[-1]),
        y=y,  # one axis for every setting: it never rescales
        start={"depth": deepest},
        alt="Line chart: the training loss over the training steps as a "
        f"share of the loss of guessing (ln {n_digits}), of the {deepest}-block stack without "
        "shortcuts (vermilion, solid) and with them (blue, dashed), the median over the seeds",
    )


def plane(vectors: np.ndarray) -> np.ndarray:
    """The directions of ``vectors`` (T, C) in the plane that shows them best: each scaled to length
    one, then projected onto its two leading principal directions (uncentred, so that a direction
    all of them share stays in view), (T, 2). Signs: most of the first coordinates, and the last
    vector's second, positive; a vector that lies in the plane reaches the unit circle."""
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    _, _, basis = np.linalg.svd(unit, full_matrices=False)  # rows: principal directions
    xy = unit @ basis[:2].T  # (T, 2)
    xy[:, 0] *= 1 if xy[:, 0].sum() >= 0 else -1
    xy[:, 1] *= 1 if xy[-1, 1] >= 0 else -1
    return xy


def plot_convergence(
    vectors: dict[bool, np.ndarray],
    similarity: dict[bool, Sequence[float]],
    shown: Sequence[int] = (0, 1, 2, 8),
) -> plt.Figure:
    """The positions' vectors of one problem after 0, 1, 2, ... blocks (columns ``shown``), in the
    stacks without (top row) and with shortcuts: each position an arrow, in the plane of
    ``plane``. ``vectors[use_shortcut]`` is (L + 1, T, C), the embeddings then each block's
    output; the panels' titles give ``similarity[use_shortcut]`` at that depth, the mean cosine
    between different positions."""
    if set(vectors) != {False, True} or set(similarity) != {False, True}:
        raise ValueError("give vectors and similarities without (False) and with (True) shortcuts")
    for s in (False, True):
        v = np.asarray(vectors[s])
        if v.ndim != 3 or len(similarity[s]) != len(v):
            raise ValueError("vectors must be (L + 1, T, C), with one similarity per depth")
        if not all(isinstance(k, int) and 0 <= k < len(v) for k in shown):
            raise ValueError(f"shown depths {list(shown)} must lie in 0 .. {len(v) - 1}")
    circle = np.linspace(0, 2 * np.pi, 200)
    with book_style():
        fig, axes = plt.subplots(
            2, len(shown), figsize=(1.4 * len(shown) + 0.7, 3.8), sharex=True, sharey=True,
            squeeze=False,
        )  # fmt: skip
        for row, use_shortcut in enumerate((False, True)):
            color = RESIDUAL if use_shortcut else PLAIN
            for ax, depth in zip(axes[row], shown, strict=True):
                xy = plane(np.asarray(vectors[use_shortcut][depth], dtype=float))
                ax.plot(np.cos(circle), np.sin(circle), color="#999999", linewidth=0.8, ls=":")
                for x, y in xy:
                    ax.annotate(
                        "", (x, y), (0, 0),
                        arrowprops={"arrowstyle": "-|>", "color": color, "lw": 1.2,
                                    "shrinkA": 0, "shrinkB": 0, "mutation_scale": 8},
                    )  # fmt: skip
                ax.set(xlim=(-1.15, 1.15), ylim=(-1.15, 1.15), xticks=[-1, 0, 1], yticks=[-1, 0, 1])
                ax.set_aspect("equal")
                where = "embeddings" if depth == 0 else f"block {depth}"
                ax.set_title(f"{where}\ncos {similarity[use_shortcut][depth]:.2f}", fontsize=13)
                ax.tick_params(labelsize=12)  # large enough to read on a phone
            axes[row, 0].set_ylabel(
                f"{'with' if use_shortcut else 'without'}\nshortcuts", fontsize=13
            )
    return finish(fig)
