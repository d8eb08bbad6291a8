"""Figures of the chapter on why residual networks work: learning the identity, paths, shattered
gradients, lesions and initialisation; one line style per kind of network (``_net_style``); and an
explorer of the paths (``paths_explorer``)."""

import math
from typing import TYPE_CHECKING

import matplotlib.pyplot as plt
import numpy as np

from gradflow.axes import Axis, integer_axis
from gradflow.chart import Series, View
from gradflow.explorer import Explorer, Slider, Toggle
from gradflow.plots.style import GATED, PALETTE, PLAIN, RESIDUAL, book_style, finish

if TYPE_CHECKING:  # result types of the experiments drawn here
    from gradflow.experiments.why_residuals_work import (
        InitRun,
        LesionResult,
        PathStudies,
        PathStudy,
        ShatterSweep,
    )


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
            ax_1.plot(blocks, res.single, label=name, zorder=3, **style)
            # the intact network's accuracy: thin and behind the curves, which it must not hide
            ax_1.axhline(res.baseline, color=style["color"], linewidth=0.6, linestyle=":", zorder=1)
            ks = [0, *res.several]
            ax_k.plot(ks, [res.baseline, *res.several.values()], **style)
        for ax in (ax_1, ax_k):
            ax.axhline(0.1, color="#555555", linewidth=0.8, zorder=1)
            ax.set(ylim=(0, 1), ylabel="test accuracy")
        # named in the legend, not written on the axes, where points near chance would cover it
        ax_1.plot([], [], color="#555555", linewidth=0.6, linestyle=":", label="intact (dotted)")
        ax_1.plot([], [], color="#555555", linewidth=0.8, label="chance (10 %)")
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


# -- The paths explorer ----------------------------------------------------------------------------
# each family's gradient line, in the order of the families: colour and dash (the paths are solid)
FAMILY_LINES = [(RESIDUAL, "7 4"), (PALETTE["orange"], "2 3")]


def _percent(share: float) -> str:
    """A share for reading: '93.1 %', or '< 0.1 %'."""
    return f"{share:.1%}".replace("%", " %") if share >= 0.0005 else "< 0.1 %"


def _branches(k: int) -> str:
    return f"{k} branch" if k == 1 else f"{k} branches"


def paths_explorer(
    paths: "PathStudies", blocks: int | None = None, trained: bool = True
) -> Explorer:
    """The share of all paths and the share of the gradient, by path length: a slider sets the
    number of blocks, a check box shows the networks after training or at initialisation.
    ``paths.at_init`` and ``paths.trained`` map the same ``(family, blocks)`` pairs to a
    ``PathStudy``, as ``gradflow.experiments.why_residuals_work.path_studies`` returns them; a
    family not measured at some number of blocks is not drawn there."""
    at_init, after = getattr(paths, "at_init", None), getattr(paths, "trained", None)
    if not isinstance(at_init, dict) or not isinstance(after, dict) or not after:
        raise TypeError("paths must be a PathStudies with non-empty dicts at_init and trained")
    if set(at_init) != set(after):
        raise ValueError("paths.at_init and paths.trained must study the same (family, blocks)")
    families = list(dict.fromkeys(family for family, _ in after))
    if len(families) > len(FAMILY_LINES):
        raise ValueError(f"at most {len(FAMILY_LINES)} families, got {families}")
    for (family, n), st in [*at_init.items(), *after.items()]:
        gradient = np.asarray(st.gradient, dtype=float)
        if st.n_blocks != n or len(st.counts) != n + 1 or gradient.shape != (n + 1,):
            raise ValueError(f"{family!r}, {n} blocks: needs n + 1 counts and gradients")
        if sum(st.counts) != 2**n:
            raise ValueError(f"{family!r}, {n} blocks: the counts must add up to all 2**n paths")
        if not (np.isfinite(gradient).all() and gradient.sum() > 0):
            raise ValueError(f"{family!r}, {n} blocks: gradients must be finite, not all 0")
    depths = sorted({n for _, n in after})
    name = {family: family.removeprefix("residual, ") for family in families}

    def caption(n: int, is_trained: bool) -> str:
        studies = after if is_trained else at_init
        measured = [f for f in families if (f, n) in studies]
        counts, quarter = studies[measured[0], n].counts, n // 4
        peaks = " and ".join(f"{studies[f, n].peak} ({name[f]})" for f in measured)
        carry = " and ".join(_percent(studies[f, n].share_up_to(quarter)) for f in measured)
        missing = "; ".join(name[f] for f in families if f not in measured)
        return (
            f"{n} blocks, {'after training' if is_trained else 'at initialisation'}: most paths "
            f"pass through {_branches(int(np.argmax(counts)))}, most gradient through {peaks}. The "
            f"paths through at most {_branches(quarter)} are "
            f"{_percent(sum(counts[: quarter + 1]) / 2**n)} of all paths and carry {carry} of the "
            f"gradient.{f' Not measured at {n} blocks: {missing}.' if missing else ''}"
        )

    def shares(n: int, is_trained: bool) -> dict[str, list[float]]:
        studies = after if is_trained else at_init
        counts = next(studies[f, n].counts for f in families if (f, n) in studies)
        y = {"paths": [c / 2**n for c in counts]}
        for i, family in enumerate(families):
            if (family, n) in studies:
                total = studies[family, n].total
                y[f"family{i}"] = [float(t) for t in total / total.sum()]
        return y

    views = {
        (n, t): View(caption(n, t), shares(n, t), x=list(range(n + 1)))
        for n in depths
        for t in (False, True)
    }
    top = max(v for view in views.values() for ys in view.y.values() for v in ys)
    step = 0.1 if top <= 0.6 else 0.2  # at most seven labelled ticks
    hi = step * math.ceil(top / step - 1e-9)
    ticks = [(k * step, f"{round(k * step * 100)} %") for k in range(round(hi / step) + 1)]
    return Explorer(
        [
            Slider("blocks", "Blocks", depths, [f"{n} blocks" for n in depths]),
            Toggle("trained", "after training", ("at initialisation", "after training")),
        ],
        [
            Series("paths", "all paths", PALETTE["purple"]),
            *(
                Series(f"family{i}", f"gradient, {name[f]}", color, dash)
                for i, (f, (color, dash)) in enumerate(zip(families, FAMILY_LINES, strict=False))
            ),
        ],
        views,
        x=integer_axis("path length (branches on the path)", 0, max(depths)),
        y=Axis("share by path length", 0.0, hi, ticks=ticks),
        start={"blocks": blocks or depths[len(depths) // 2], "trained": trained},
        alt="Line chart against path length, from 0 to "
        f"{max(depths)} branches: for a residual network of "
        f"{blocks or depths[len(depths) // 2]} blocks "
        f"{'after training' if trained else 'at initialisation'}, the share of all paths with "
        "each length (purple, solid), a bell curve centred at half the number of blocks, and the "
        "share of the gradient carried by the paths of each length, for each family of networks "
        "(blue dashed and orange dotted), peaking at far shorter paths",
    )
