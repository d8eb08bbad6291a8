"""Figures of the chapter on vanishing gradients: the activations and their slopes, gradient
profiles by depth and by initialisation (with an explorer over the weight scale), and two training
runs side by side."""

import math
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import matplotlib.pyplot as plt
import torch

from gradflow._checks import check_positive_int
from gradflow.activations import ACTIVATION_NAMES, value_and_derivative
from gradflow.axes import Axis, decade, integer_axis, log_axis, sci
from gradflow.chart import Series, View
from gradflow.explorer import Explorer, Menu, Slider
from gradflow.mlp import check_activation
from gradflow.plots.style import (
    ACTIVATION_LABELS,
    CYCLE,
    DASHES,
    MARKERS,
    PALETTE,
    PLAIN,
    book_style,
    finish,
)

if TYPE_CHECKING:  # result type of the training drawn here
    from gradflow.train import History


def plot_activations(
    names=ACTIVATION_NAMES, lo: float = -5.0, hi: float = 5.0, points: int = 1001
) -> plt.Figure:
    """Two panels: each activation phi(z) on the left, its autograd derivative phi'(z) on the right."""
    names = [check_activation(n) for n in names]
    check_positive_int(points, "points", minimum=2)
    if not lo < hi:
        raise ValueError(f"need lo < hi, got lo={lo} and hi={hi}")
    z = torch.linspace(lo, hi, points, dtype=torch.float64)
    dashes = ["-", "--", "-.", ":"]
    with book_style():
        fig, (ax_y, ax_d) = plt.subplots(1, 2, figsize=(9.6, 3.8))
        for i, name in enumerate(names):
            y, dy = value_and_derivative(name, z)
            style = dict(color=CYCLE[i % len(CYCLE)], ls=dashes[i % len(dashes)], lw=2, label=name)
            ax_y.plot(z.numpy(), y.numpy(), **style)
            ax_d.plot(z.numpy(), dy.numpy(), **style)
        ax_d.axhline(0.25, color="#777777", lw=1, ls=(0, (1, 2)))
        ax_d.annotate("max sigmoid$'$ = 1/4", (lo + 0.2, 0.28), fontsize=9)
        ax_y.set(xlabel="pre-activation $z$", ylabel=r"$\varphi(z)$", title="activation")
        ax_d.set(
            xlabel="pre-activation $z$", ylabel=r"$\varphi'(z)$", title="derivative (autograd)"
        )
        ax_y.set_ylim(-1.5, 5.2)
        ax_d.set_ylim(-0.2, 1.25)
        ax_y.legend(loc="upper left")
    return finish(fig)


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
            ax.set_ylabel(r"$\|\partial \mathcal{L} / \partial W_k\|$")
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


NAMED_SCALES = {1.0: "1 (Xavier)", math.sqrt(2): "√2 ≈ 1.41 (He)"}  # how the slider reads them


def scale_text(c: float) -> str:
    """How the weight scale ``c`` reads: '0.75', '1 (Xavier)', '√2 ≈ 1.41 (He)'."""
    for named, text in NAMED_SCALES.items():
        if math.isclose(c, named):
            return text
    return f"{c:g}"


def _number(value: float) -> str:
    """Three significant digits, in scientific notation outside 0.001 to 1000: '0.220', '3.66 × 10⁴'."""
    return f"{value:#.3g}" if 1e-3 <= value < 1e3 else sci(value)


def _decade_axis(label: str, values: Sequence[float], step: int = 10) -> Axis:
    """A logarithmic axis over whole decades holding ``values``, labelled every ``step`` decades."""
    lo = math.floor(math.log10(min(values)))
    hi = max(math.ceil(math.log10(max(values))), lo + 1)
    labelled = [k for k in range(lo, hi + 1) if k % step == 0]
    if len(labelled) < 2:  # a short range: label its decades as other explorers do
        return log_axis(label, values)
    ticks = [(10.0**k, decade(k)) for k in labelled]
    return Axis(
        label, 10.0**lo, 10.0**hi, log=True, ticks=ticks, minor=[10.0**k for k in range(lo, hi + 1)]
    )


def scale_explorer(
    sweeps: dict[str, dict[float, list[float]]],
    default: dict[str, list[float]],
    scale: float | None = None,
    activation: str | None = None,
) -> Explorer:
    """Each layer's ||dL/dW|| of one plain network redrawn with weight scale c: a slider sets c, a
    menu the activation. ``sweeps[activation][c]`` is a profile as ``scale_sweep`` returns it, and
    ``default[activation]`` the same network's profile with PyTorch's default weights, drawn dashed;
    the first state shows ``scale`` (the smallest by default) and ``activation`` (the first)."""
    if not isinstance(sweeps, dict) or not sweeps:
        raise TypeError("sweeps must be a non-empty dict {activation: {scale: profile}}")
    if not isinstance(default, dict) or set(default) != set(sweeps):
        raise ValueError(f"default needs one profile for each activation of sweeps: {list(sweeps)}")
    scales = sorted(next(iter(sweeps.values())))
    if any(sorted(by_scale) != scales for by_scale in sweeps.values()):
        raise ValueError("every activation needs profiles at the same weight scales")
    profiles = [*(p for by in sweeps.values() for p in by.values()), *default.values()]
    depth = len(profiles[0])
    if depth < 2 or any(len(p) != depth for p in profiles):
        raise ValueError(f"every profile needs the same number of layers, at least 2: {depth}")
    if not all(v > 0 and math.isfinite(v) for p in profiles for v in p):
        raise ValueError("gradient norms must be finite and above 0 (a logarithmic axis)")
    label = {name: ACTIVATION_LABELS.get(name, name) for name in sweeps}

    def caption(c: float, name: str) -> str:
        p, ratio = sweeps[name][c], sweeps[name][c][0] / sweeps[name][c][-1]
        return (
            f"{label[name]}, c = {scale_text(c)}, {depth} layers: each step towards the input "
            f"multiplies the gradient by {ratio ** (1 / (depth - 1)):.3f} on average; the first "
            f"layer's, {_number(p[0])}, is {_number(ratio)} times the last layer's (default "
            f"weights, dashed: {_number(default[name][0])})."
        )

    views = {
        (c, name): View(caption(c, name), {"scaled": sweeps[name][c], "default": default[name]})
        for name in sweeps
        for c in scales
    }
    return Explorer(
        [
            Slider("scale", "Weight scale c", scales, [f"c = {scale_text(c)}" for c in scales]),
            Menu("activation", "Activation", label),
        ],
        [
            Series("scaled", "weight scale c", PLAIN),
            Series("default", "PyTorch's default", PALETTE["orange"], dash="7 4"),
        ],
        views,
        x=integer_axis("layer (1 = next to the input)", 1, depth),
        y=_decade_axis("‖∂ℒ/∂W‖", [v for p in profiles for v in p]),  # one axis: it never rescales
        start={
            "scale": scales[0] if scale is None else scale,
            "activation": activation or next(iter(sweeps)),
        },
        alt=f"Line chart, logarithmic vertical axis: the weight-gradient norm of each of the {depth} "
        "layers of a plain network, from the input to the output, with its weights drawn at scale c "
        "(vermilion, solid) and with PyTorch's default weights (orange, dashed)",
    )
