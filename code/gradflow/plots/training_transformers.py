"""Figures of the chapter on training transformers: loss curves over seeds beside the final test
accuracies, for GPTs of several depths with and without shortcuts."""

from collections.abc import Sequence
from typing import TYPE_CHECKING

import matplotlib.pyplot as plt
import numpy as np

from gradflow.plots.style import book_style, family_style, finish

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
