"""Vanishing and exploding gradients in plain (shortcut-free) networks: measure, sweep, plot.

Everything here builds plain ``ShortcutMLP`` classifiers (``use_shortcut=False``) on the digits and
measures one thing: the Frobenius norm of each layer's weight gradient after one backward pass on a
fixed batch (``gradflow.gradients.gradient_profile`` with ``statistic="norm"``). The weight-scale
sweep follows Glorot & Bengio (2010) and He et al. (2015); the training figures read the
``History`` that ``gradflow.train.train_classifier`` records.
"""

import math
from collections.abc import Callable, Sequence

import matplotlib.pyplot as plt
import torch
from torch import nn

from gradflow._checks import check_int, check_positive_int, check_tensor
from gradflow.data import Digits
from gradflow.gradients import gradient_profile, weight_matrices
from gradflow.mlp import ShortcutMLP, check_activation
from gradflow.plots import CYCLE, MARKERS, book_style, finish
from gradflow.train import History


def plain_mlp(
    depth: int,
    width: int = 64,
    activation: str = "sigmoid",
    in_features: int = 64,
    out_features: int = 10,
    seed: int = 0,
) -> ShortcutMLP:
    """A plain classifier of ``depth`` Linear layers (activation after all but the last), seeded."""
    check_positive_int(depth, "depth")
    check_positive_int(width, "width")
    check_positive_int(in_features, "in_features")
    check_positive_int(out_features, "out_features")
    check_activation(activation)
    check_int(seed, "seed")
    sizes = [in_features] + [width] * (depth - 1) + [out_features]  # depth + 1 widths
    torch.manual_seed(seed)  # PyTorch's default initialisation draws from the global generator
    return ShortcutMLP(sizes, use_shortcut=False, activation=activation, last_activation=False)


def digits_batch(data: Digits, size: int = 256) -> tuple[torch.Tensor, torch.Tensor]:
    """The fixed batch every gradient profile uses: the first ``size`` training digits."""
    if not isinstance(data, Digits):
        raise TypeError(f"data must be a gradflow.data.Digits, got {type(data).__name__}")
    check_positive_int(size, "size")
    if size > data.x_train.shape[0]:
        raise ValueError(f"size {size} exceeds the {data.x_train.shape[0]} training digits")
    return data.x_train[:size], data.y_train[:size]  # (B, 64), (B,)


def weight_gradient_norms(
    model: nn.Module, x: torch.Tensor, y: torch.Tensor, dtype: torch.dtype = torch.float64
) -> list[float]:
    """||dL/dW_k|| for every layer k (input first), cross-entropy on (x, y), computed in ``dtype``.

    The default float64 keeps gradients far below float32's smallest normal number (about 1e-38)
    from losing their precision or being rounded to exactly zero. The model is converted in place.
    """
    check_tensor(x, "x", ndim=2)
    model = model.to(dtype)
    return gradient_profile(
        model, x.to(dtype), y, statistic="norm", loss_fn=nn.functional.cross_entropy
    )


def depth_profiles(
    activation: str,
    depths: Sequence[int],
    x: torch.Tensor,
    y: torch.Tensor,
    width: int = 64,
    seed: int = 0,
    dtype: torch.dtype = torch.float64,
) -> dict[int, list[float]]:
    """For each depth, the weight-gradient norms of a freshly initialised plain network."""
    check_activation(activation)
    if not depths:
        raise ValueError("depths is empty: give at least one depth")
    check_tensor(x, "x", ndim=2)
    return {
        d: weight_gradient_norms(
            plain_mlp(d, width, activation, x.shape[1], seed=seed), x, y, dtype
        )
        for d in depths
    }


def first_to_last(profile: Sequence[float]) -> float:
    """The ratio of the first layer's gradient norm to the last layer's."""
    if len(profile) == 0:
        raise ValueError("profile is empty: it needs at least one layer")
    if profile[-1] == 0:
        raise ValueError("the last layer's gradient is zero, so the ratio is undefined")
    return profile[0] / profile[-1]


def per_layer_factor(profile: Sequence[float]) -> float:
    """The geometric-mean factor by which the gradient norm changes per layer, first to last."""
    if len(profile) < 2:
        raise ValueError(f"profile needs at least two layers, got {len(profile)}")
    return first_to_last(profile) ** (1 / (len(profile) - 1))


def default_weight_scale(fan_in: int = 64, seed: int = 0) -> float:
    """std(W) * sqrt(fan_in) of a fresh ``nn.Linear``: PyTorch's default scale in units of 1/sqrt(n)."""
    check_positive_int(fan_in, "fan_in", minimum=2)
    torch.manual_seed(seed)
    w = nn.Linear(fan_in, 4096).weight  # many draws, so the measured std is close to the true one
    return w.std().item() * math.sqrt(fan_in)


# Each scheme redraws a weight matrix in place. With n = fan_in, a hidden layer's std is c / sqrt(n)
# with c = 0.5, 1 (Xavier, since fan_in = fan_out there), sqrt(2) (He) and 3.
INIT_SCHEMES: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "too small": lambda w: nn.init.normal_(w, std=0.5 / math.sqrt(w.shape[1])),
    "Xavier/Glorot": nn.init.xavier_normal_,  # std = sqrt(2 / (fan_in + fan_out))
    "He/Kaiming": lambda w: nn.init.kaiming_normal_(w, nonlinearity="relu"),  # std = sqrt(2 / n)
    "too large": lambda w: nn.init.normal_(w, std=3.0 / math.sqrt(w.shape[1])),
}


@torch.no_grad()
def init_weights(model: nn.Module, scheme: str, seed: int = 0) -> nn.Module:
    """Redraw every weight matrix of ``model`` with ``scheme`` (biases keep PyTorch's default)."""
    if scheme not in INIT_SCHEMES:
        raise ValueError(f"unknown scheme {scheme!r}; choose one of {list(INIT_SCHEMES)}")
    torch.manual_seed(seed)
    for _, w in weight_matrices(model):
        INIT_SCHEMES[scheme](w)
    return model


def init_sweep(
    activation: str,
    x: torch.Tensor,
    y: torch.Tensor,
    depth: int = 50,
    width: int = 64,
    schemes: Sequence[str] = tuple(INIT_SCHEMES),
    seed: int = 0,
) -> dict[str, list[float]]:
    """For each initialisation scheme, the weight-gradient norms of the same plain network."""
    check_activation(activation)
    check_tensor(x, "x", ndim=2)
    if len(schemes) == 0:
        raise ValueError("schemes is empty: give at least one initialisation scheme")
    out = {}
    for scheme in schemes:
        model = plain_mlp(depth, width, activation, x.shape[1], seed=seed)
        out[scheme] = weight_gradient_norms(init_weights(model, scheme, seed=seed), x, y)
    return out


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
            ax.set_ylabel(r"$\|\partial L / \partial W_k\|$")
        for ax in list(axes.flat)[n:]:
            ax.set_visible(False)
        axes.flat[0].legend(fontsize=9)
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


def plot_training(histories: dict[str, History], deep: str, layers: Sequence[int]) -> plt.Figure:
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
                ls=["-", "--"][i % 2],
                lw=2,
                label=name,
            )
        ax_l.axhline(math.log(10), color="#777777", lw=1, ls=":")
        ax_l.annotate(
            "ln 10: a uniform guess",
            (0.5, math.log(10) - 0.1),
            xycoords=("axes fraction", "data"),
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
        ax_u.legend(fontsize=9, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    return finish(fig)
