"""Figures of the lessons: one style, one colour palette, legible in light and dark mode.

Figures are drawn on an opaque white background with dark ink, so they read the same whichever
colour scheme the reader's browser uses; the site's CSS gives them a rounded frame in dark mode.
Colours come from the Okabe-Ito palette, which stays distinguishable under the common colour-vision
deficiencies; lines also differ in marker or dash so that nothing relies on colour alone.
In a notebook, each figure is handed out as PNG (for the site) and PDF (for the PDF edition).
"""

import math
from collections.abc import Callable, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.ticker import MaxNLocator, NullFormatter

if TYPE_CHECKING:  # result types of the experiments drawn here
    from gradflow.experiments.training_transformers import Trained
    from gradflow.experiments.why_residuals_work import (
        InitRun,
        LesionResult,
        PathStudy,
        ShatterSweep,
    )
    from gradflow.train import History

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


# ---- vanishing gradients ----------------------------------------------------------------------


def _profile_lines(ax: plt.Axes, profiles: dict, title: str, label: Callable[[object], str]):
    """Draw one log-scale line per profile: layer index (1 = input side) against gradient norm."""
    for i, (key, profile) in enumerate(profiles.items()):
        layers = range(1, len(profile) + 1)
        ax.plot(
            layers,
            profile,
            color=CYCLE[i % len(CYCLE)],
            marker=MARKERS[i % len(MARKERS)],
            markevery=max(1, len(profile) // 10),
            ms=5,
            lw=1.6,
            label=label(key),
        )
    ax.set_yscale("log")
    ax.set(title=title, xlabel="layer (1 = next to the input)")


def plot_depth_profiles(profiles: dict[str, dict[int, list[float]]]) -> plt.Figure:
    """One panel per activation: layer index against ||dL/dW|| (log), one line per depth."""
    if not profiles:
        raise ValueError("profiles is empty: give at least one activation")
    n = len(profiles)
    cols = 2 if n > 1 else 1
    rows = math.ceil(n / cols)
    with book_style():
        fig, axes = plt.subplots(rows, cols, figsize=(4.8 * cols, 3.4 * rows), squeeze=False)
        for ax, (act, by_depth) in zip(axes.flat, profiles.items(), strict=False):
            _profile_lines(ax, by_depth, act, lambda d: f"depth {d}")
            ax.set_ylabel(r"$\|\partial \mathcal{L} / \partial W_k\|$")
            # the panels' ranges differ by tens of orders of magnitude: say so in each panel
            values = [v for profile in by_depth.values() for v in profile if v > 0]
            lo, hi = math.floor(math.log10(min(values))), math.ceil(math.log10(max(values)))
            ax.set_title(f"{act}: $10^{{{lo}}}$ to $10^{{{hi}}}$")
            ax.legend(fontsize=8)  # every panel has its own legend
        for ax in list(axes.flat)[n:]:
            ax.set_visible(False)
    return finish(fig)


def plot_init_sweep(sweeps: dict[str, dict[str, list[float]]]) -> plt.Figure:
    """One panel per activation: layer index against ||dL/dW|| (log), one line per init scheme."""
    if not sweeps:
        raise ValueError("sweeps is empty: give at least one activation")
    with book_style():
        fig, axes = plt.subplots(1, len(sweeps), figsize=(4.8 * len(sweeps), 3.6), squeeze=False)
        for ax, (act, by_scheme) in zip(axes.flat, sweeps.items(), strict=True):
            _profile_lines(
                ax, by_scheme, f"{act}, depth {len(next(iter(by_scheme.values())))}", str
            )
            ax.set_ylabel(r"$\|\partial L / \partial W_k\|$")
        axes.flat[0].legend(fontsize=9)
    return finish(fig)


def plot_training(histories: "dict[str, History]", deep: str, layers: Sequence[int]) -> plt.Figure:
    """Left: training loss of each run. Right: ||dW||/||W|| over training of some layers of ``deep``."""
    if deep not in histories:
        raise ValueError(f"deep must be one of the runs {list(histories)}, got {deep!r}")
    history = histories[deep]
    n_layers = len(history.relative_update[0])
    for k in layers:
        if not 1 <= k <= n_layers:
            raise ValueError(
                f"layer {k} is out of range: the run {deep!r} has layers 1..{n_layers}"
            )
    with book_style():
        fig, (ax_l, ax_u) = plt.subplots(1, 2, figsize=(10, 3.8))
        for i, (name, h) in enumerate(histories.items()):
            ax_l.plot(
                h.steps,
                h.train_loss,
                color=CYCLE[i % len(CYCLE)],
                ls=DASHES[i % 2],
                lw=2,
                label=name,
            )
        ax_l.axhline(math.log(10), color="#777777", lw=1, ls=":")
        ax_l.annotate(  # above the line, clear of a curve that stays on it
            "ln 10: a uniform guess",
            (0.5, math.log(10)),
            xycoords=("axes fraction", "data"),
            xytext=(0, 7),
            textcoords="offset points",
            fontsize=9,
        )
        ax_l.set(xlabel="training step", ylabel="training loss (cross-entropy)", title="loss")
        ax_l.legend(loc="lower left")
        steps = history.steps[: len(history.relative_update)]  # the last record has no update
        updates = torch.tensor(history.relative_update)  # (records, layers)
        for i, k in enumerate(layers):
            ax_u.plot(
                steps,
                updates[:, k - 1].numpy(),
                color=CYCLE[i % len(CYCLE)],
                marker=MARKERS[i % len(MARKERS)],
                markevery=max(1, len(steps) // 8),
                ms=5,
                lw=1.4,
                label=f"layer {k}",
            )
        ax_u.set_yscale("log")
        ax_u.set(
            xlabel="training step",
            ylabel=r"$\|\Delta W_k\| \, / \, \|W_k\|$",
            title=f"relative update per step, {deep}",
        )
        handles, labels = ax_u.get_legend_handles_labels()
        ax_u.legend(  # top to bottom in the order of the lines: the layer nearest the output first
            handles[::-1], labels[::-1], fontsize=9, loc="upper left", bbox_to_anchor=(1.0, 1.0)
        )
    return finish(fig)


# ---- shortcuts in training --------------------------------------------------------------------


def _style(use_shortcut: bool, deep: bool) -> dict:
    """Line style of a network: colour by family, dash by depth."""
    return {
        "color": RESIDUAL if use_shortcut else PLAIN,
        "linestyle": DASHES[0] if deep else DASHES[1],
        "marker": ("o" if use_shortcut else "s") if deep else None,
        "markevery": 4,
        "markersize": 4,
    }


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
            style = _style(rs[0].spec.use_shortcut, rs[0].spec.depth == deepest)
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


# ---- why residual networks work ------------------------------------------------------------


def _net_style(name: str) -> dict:
    if "gates at 1/√L" in name:  # a learnable gate that starts at the fixed scale's value
        return {"color": PALETTE["purple"], "linestyle": (0, (1, 3)), "marker": "v"}
    if "s = 1/L" in name:  # a small fixed scale: close to the identity, not learnable
        return {"color": PALETTE["sky"], "linestyle": (0, (5, 2, 1, 2)), "marker": "P"}
    if "gate" in name:
        return {"color": GATED, "linestyle": ":", "marker": "^"}
    if "plain" in name:
        return {"color": PLAIN, "linestyle": "-", "marker": "s"}
    if "default" in name:
        return {"color": PALETTE["orange"], "linestyle": "-.", "marker": "D"}
    return {"color": RESIDUAL, "linestyle": "--", "marker": "o"}


def plot_identity(results, figsize: tuple[float, float] = (9.6, 3.8)) -> plt.Figure:
    """Relative error over training steps, one panel per task, log scale (an exact 0 at the bottom)."""
    positive = [e for c in results.values() for _, es in c.values() for e in es if e > 0]
    floor = min(positive) / 10  # where a curve that is exactly zero is drawn, and labelled
    with book_style():
        fig, axes = plt.subplots(1, len(results), figsize=figsize, sharey=True)
        for ax, (task, curves) in zip(np.atleast_1d(axes), results.items(), strict=True):
            for name, (steps, errors) in curves.items():
                style = _net_style(name)
                shown = np.maximum(errors, floor)
                ax.plot(steps, shown, label=name, markevery=4, markersize=4, **style)
                if max(errors) == 0:
                    ax.text(steps[-1], floor * 1.6, "error exactly 0", ha="right", fontsize=9,
                            color=style["color"])  # fmt: skip
            ax.set(yscale="log", xlabel="training step", title=task)
        np.atleast_1d(axes)[0].set_ylabel("relative error (MSE / variance)")
        np.atleast_1d(axes)[0].legend(fontsize=9)
    return finish(fig)


def plot_paths(
    studies: "dict[int | tuple[str, int], PathStudy]", figsize=(11.5, 3.6)
) -> plt.Figure:
    """Path-length distribution, gradient per path and total gradient per length, for each depth.

    ``studies`` maps a depth, or a (family, depth) pair, to a ``PathStudy``; the colour gives the
    depth and, with pairs, the line style the family (solid for the first, dashed for the second).
    """
    colors = [PALETTE["sky"], RESIDUAL, PALETTE["black"], PALETTE["purple"]]
    markers = ["^", "o", "s", "D"]
    keys = [k if isinstance(k, tuple) else ("", k) for k in studies]
    families = list(dict.fromkeys(f for f, _ in keys))
    depths = sorted({d for _, d in keys})
    with book_style():
        fig, (ax_n, ax_g, ax_t) = plt.subplots(1, 3, figsize=figsize)
        for depth in depths:  # the fraction of paths of each length does not depend on the family
            st = next(studies[k] for k, (_, d) in zip(studies, keys, strict=True) if d == depth)
            j = depths.index(depth)
            ax_n.plot(np.arange(depth + 1), np.array(st.counts) / 2.0**depth,
                      color=colors[j % 4], marker=markers[j % 4], markersize=3.5,
                      label=f"{depth} blocks")  # fmt: skip
        for key, (family, depth) in zip(studies, keys, strict=True):
            st, j = studies[key], depths.index(depth)
            style = {"color": colors[j % 4], "marker": markers[j % 4], "markersize": 3.5,
                     "linestyle": "-" if families.index(family) == 0 else "--"}  # fmt: skip
            k = np.arange(st.n_blocks + 1)
            ax_g.plot(k, st.gradient, **style)
            ax_t.plot(k, st.total / st.total.sum(), **style)
            ax_t.axvline(st.peak, color=colors[j % 4], linewidth=0.8, linestyle=":")
        ax_n.set(xlabel="path length (branches on the path)", ylabel="fraction of all paths")
        ax_g.set(xlabel="path length", ylabel="gradient norm along one path", yscale="log")
        ax_t.set(xlabel="path length", ylabel="share of the total gradient")
        ax_n.legend(fontsize=9)
        if len(families) > 1:  # one legend entry per family: its line style
            for i, family in enumerate(families):
                ax_g.plot([], [], color="#555555", linestyle="-" if i == 0 else "--", label=family)
            ax_g.legend(fontsize=8)
        for ax in (ax_n, ax_g, ax_t):
            ax.set_xlim(0, max(depths))
    return finish(fig)


def plot_shattering(sweep: "ShatterSweep", lag: int, figsize=(11.5, 3.6)) -> plt.Figure:
    """Gradient correlation against depth, centred and not (median and range over the seeds), and
    the Jacobian's singular values at the deepest depth."""
    with book_style():
        fig, (ax_c, ax_u, ax_s) = plt.subplots(1, 3, figsize=figsize)
        for name in sweep.line:
            style = _net_style(name)
            for ax, values in ((ax_c, sweep.line[name]), (ax_u, sweep.uncentred[name])):
                ax.plot(sweep.depths, np.median(values, axis=1), label=name, **style)
                ax.fill_between(sweep.depths, values.min(axis=1), values.max(axis=1),
                                color=style["color"], alpha=0.15, linewidth=0)  # fmt: skip
            sv = sweep.singular_values[name]
            ax_s.plot(np.arange(1, len(sv) + 1), np.maximum(sv, 1e-12), **style, markersize=3)
        ax_c.set(xscale="log", xlabel="hidden layers", ylabel=f"centred correlation, {lag} apart")
        ax_u.set(xscale="log", xlabel="hidden layers", ylabel=f"uncentred cosine, {lag} apart")
        for ax in (ax_c, ax_u):
            ax.set_xticks(sweep.depths, [str(d) for d in sweep.depths])
            ax.minorticks_off()
            ax.set_ylim(min(0.0, ax.get_ylim()[0]), 1.02)
        ax_s.set(
            yscale="log",
            xlabel=f"index (largest first), {max(sweep.depths)} layers",
            ylabel="singular value of the Jacobian",
        )
        ax_c.legend(fontsize=9)
    return finish(fig)


def plot_lesions(results: "dict[str, LesionResult]", draws: int, figsize=(9.6, 3.8)) -> plt.Figure:
    """Test accuracy after deleting each single block, and after deleting k random blocks (the
    mean of ``draws`` random choices)."""
    with book_style():
        fig, (ax_1, ax_k) = plt.subplots(1, 2, figsize=figsize)
        for name, res in results.items():
            style = _net_style(name)
            blocks = np.arange(1, len(res.single) + 1)
            ax_1.plot(blocks, res.single, label=name, **style)
            ax_1.axhline(res.baseline, color=style["color"], linewidth=0.8, linestyle=":")
            ks = [0, *res.several]
            ax_k.plot(ks, [res.baseline, *res.several.values()], **style)
        for ax in (ax_1, ax_k):
            ax.axhline(0.1, color="#555555", linewidth=0.8)
            ax.set(ylim=(0, 1), ylabel="test accuracy")
        ax_1.text(1, 0.12, "chance (10 %)", fontsize=9, color="#555555")
        ax_1.set(xlabel="deleted block")
        ax_k.set(xlabel=f"blocks deleted at random (mean of {draws} draws)")
        ax_1.legend(fontsize=9, loc="center right")
    return finish(fig)


def plot_init(runs: "dict[str, InitRun]", figsize=(9.6, 3.8)) -> plt.Figure:
    """RMS of the signal through depth at initialisation, and training loss over steps."""
    with book_style():
        fig, (ax_r, ax_l) = plt.subplots(1, 2, figsize=figsize)
        for name, run in runs.items():
            style = _net_style(name)
            ax_r.plot(np.arange(len(run.rms)), run.rms, label=name, markevery=8, **style)
            loss = np.array(run.history.train_loss, dtype=float)
            loss[~np.isfinite(loss)] = np.nan  # a diverged run ends where its loss overflowed
            ax_l.plot(run.history.steps, loss, markevery=5, markersize=4, **style)
        ax_r.set(yscale="log", xlabel="layer (0 = input)", ylabel="RMS of the signal at init")
        ax_l.set(yscale="log", xlabel="training step", ylabel="training loss (cross-entropy)")
        ax_r.legend(fontsize=9)
    return finish(fig)


# ---- the transformer block ---------------------------------------------------------------------

NORM_COLORS = {"pre-LN": PALETTE["green"], "post-LN": PALETTE["orange"]}


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
            if yscale == "log":
                ax.yaxis.set_minor_formatter(NullFormatter())  # decade labels only: no clutter
            ax.set(title=title, xlabel=xlabel)
        axes[0, 0].set_ylabel(ylabel)
        axes[0, 0].legend()
    return finish(fig)


# ---- training transformers ---------------------------------------------------------------------


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
        styles[label] = _style(use_shortcut, depth == deepest)
    return plot_loss_curves(runs, styles, guess)
