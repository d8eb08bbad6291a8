"""Depth: how plain and residual networks behave as they get deeper, at initialisation and in training.

Two experiments of the lesson on shortcuts in training. ``depth_sweep`` measures the first layer's
gradient and the last hidden layer's activations of freshly initialised networks of growing depth.
``degradation_experiment`` reproduces at CPU scale the *degradation problem* of He et al. (2016,
*Deep Residual Learning for Image Recognition*, Fig. 1 and 4): a deeper plain network trains worse
than a shallower one, a deeper residual network does not. Networks are ``ScaledShortcutMLP``: the
book's ``ShortcutMLP`` with an optional factor on every residual branch, ``x + scale * layer(x)``.
"""

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

import matplotlib.pyplot as plt
import numpy as np
import torch
from torch import nn

from gradflow._checks import check_positive_int, check_positive_number, check_tensor
from gradflow.data import Digits
from gradflow.gradients import gradient_profile
from gradflow.mlp import ShortcutMLP, check_activation
from gradflow.plots import PLAIN, RESIDUAL, book_style, finish
from gradflow.train import OPTIMIZERS, History, train_classifier

INITS = ("default", "he")


class ScaledShortcutMLP(ShortcutMLP):
    """A ``ShortcutMLP`` whose shortcut layers compute ``x + branch_scale * layer(x)``."""

    def __init__(
        self,
        layer_sizes: list[int],
        use_shortcut: bool = False,
        activation: str = "relu",
        last_activation: bool = False,
        branch_scale: float = 1.0,
    ):
        super().__init__(layer_sizes, use_shortcut, activation, last_activation)
        if isinstance(branch_scale, bool) or not isinstance(branch_scale, (int, float)):
            raise TypeError(f"branch_scale must be a number, got {type(branch_scale).__name__}")
        if not branch_scale > 0:
            raise ValueError(f"branch_scale must be positive, got {branch_scale}")
        self.branch_scale = float(branch_scale)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_tensor(x, "x", width=self.layer_sizes[0])
        for i, layer in enumerate(self.layers):
            shortcut = x
            x = layer(x)
            if self.has_shortcut(i):
                x = shortcut + self.branch_scale * x  # the branch is scaled, the shortcut is not
        return x


def he_init_(model: nn.Module) -> nn.Module:
    """Re-initialise every weight matrix with He et al.'s (2015) normal init for ReLU; zero biases."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    for name, p in model.named_parameters():
        with torch.no_grad():
            if p.dim() == 2:
                nn.init.kaiming_normal_(p, mode="fan_in", nonlinearity="relu")  # Var = 2 / fan_in
            elif name.endswith("bias"):
                p.zero_()
    return model


@dataclass(frozen=True)
class NetSpec:
    """Which network to build: depth, shortcuts, initialisation and branch scaling."""

    depth: int  # hidden layers of `width` units (with shortcuts: residual blocks); +1 output layer
    use_shortcut: bool = False  # wrap every hidden layer in a shortcut, x + scale * layer(x)
    init: str = "default"  # "default": PyTorch's Linear init; "he": Kaiming normal, zero biases
    scale_branches: bool = False  # scale every residual branch by 1 / sqrt(depth)
    width: int = (
        64  # units per hidden layer; 64 = the digits' features, so every layer has a shortcut
    )
    activation: str = "relu"  # activation after every hidden layer (the output gives raw logits)

    def __post_init__(self):
        check_positive_int(self.depth, "depth")
        check_positive_int(self.width, "width")
        if self.init not in INITS:
            raise ValueError(f"unknown init {self.init!r}; choose one of {list(INITS)}")
        check_activation(self.activation)

    @property
    def branch_scale(self) -> float:
        """The factor on every residual branch, 1 / sqrt(depth) when scaled and 1 otherwise."""
        return 1 / math.sqrt(self.depth) if self.scale_branches else 1.0

    @property
    def label(self) -> str:
        """A short name for legends and tables, e.g. 'residual, 32 layers'."""
        kind = "residual" if self.use_shortcut else "plain"
        return f"{kind}, {self.depth} layers"


def build_network(spec: NetSpec, seed: int, n_in: int = 64, n_out: int = 10) -> ScaledShortcutMLP:
    """Build the classifier ``spec`` describes, seeding torch right before creating the weights."""
    if not isinstance(spec, NetSpec):
        raise TypeError(f"spec must be a NetSpec, got {type(spec).__name__}")
    torch.manual_seed(seed)
    model = ScaledShortcutMLP(
        [n_in] + [spec.width] * spec.depth + [n_out],
        use_shortcut=spec.use_shortcut,
        activation=spec.activation,
        last_activation=False,  # a classifier returns raw logits
        branch_scale=spec.branch_scale,
    )
    return he_init_(model) if spec.init == "he" else model


@dataclass
class SweepResult:
    """What ``depth_sweep`` measured, one entry per depth (median over the seeds)."""

    depths: list[int]  # the depths measured
    first_grad_norm: list[float]  # Frobenius norm of the first weight matrix's gradient
    hidden_rms: list[float]  # root mean square of the last hidden layer's output (input of logits)


def depth_sweep(
    spec: NetSpec,
    depths: Sequence[int],
    x: torch.Tensor,
    y: torch.Tensor,
    seeds: Sequence[int] = (0, 1, 2),
) -> SweepResult:
    """For each depth, build ``spec`` with that depth and measure one backward pass of cross-entropy."""
    if not isinstance(spec, NetSpec):
        raise TypeError(f"spec must be a NetSpec, got {type(spec).__name__}")
    depths = [check_positive_int(d, "depth") for d in depths]
    if not depths or not seeds:
        raise ValueError("depth_sweep needs at least one depth and one seed")
    check_tensor(x, "x", ndim=2)
    result = SweepResult(depths, [], [])
    for depth in depths:
        grads, rms = [], []
        for seed in seeds:
            model = build_network(replace(spec, depth=depth), seed, x.shape[1])
            seen: list[torch.Tensor] = []  # the last layer's input, caught on its way in
            hook = model.layers[-1].register_forward_pre_hook(lambda m, a, s=seen: s.append(a[0]))
            profile = gradient_profile(model, x, y, "norm", nn.functional.cross_entropy)
            hook.remove()
            grads.append(profile[0])
            rms.append(seen[0].detach().pow(2).mean().sqrt().item())
        result.first_grad_norm.append(float(np.median(grads)))
        result.hidden_rms.append(float(np.median(rms)))
    return result


@dataclass(frozen=True)
class DegradationConfig:
    """The degradation experiment: two depths, both families, one optimiser, schedule and budget."""

    shallow: int = 8  # hidden layers of the shallow networks
    deep: int = 32  # hidden layers of the deep networks
    width: int = 64  # units per hidden layer
    init: str = "he"  # initialisation of every network (see NetSpec)
    scale_branches: bool = True  # residual branches scaled by 1 / sqrt(depth)
    optimizer: str = "sgd"  # "sgd" (plain, no momentum) or "adam", same for all networks
    lr: float = 0.05  # constant learning rate
    steps: int = 500  # minibatch updates per run
    batch_size: int = 64  # digits per minibatch
    record_every: int = 25  # steps between two evaluations on the full training and test sets
    seeds: tuple[int, ...] = (0, 1, 2)  # one run per seed: weights and minibatch order

    def __post_init__(self):
        for name in ("shallow", "deep", "width", "steps", "batch_size", "record_every"):
            check_positive_int(getattr(self, name), name)
        if self.init not in INITS:
            raise ValueError(f"unknown init {self.init!r}; choose one of {list(INITS)}")
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(
                f"unknown optimizer {self.optimizer!r}; choose one of {sorted(OPTIMIZERS)}"
            )
        check_positive_number(self.lr, "lr")
        if len(self.seeds) == 0:
            raise ValueError("seeds is empty: give at least one seed")

    def specs(self) -> list[NetSpec]:
        """The four networks: plain and residual, shallow and deep."""
        return [
            NetSpec(d, res, self.init, self.scale_branches and res, self.width)
            for res in (False, True)
            for d in (self.shallow, self.deep)
        ]


@dataclass
class Run:
    """One training run: the network, its seed and what the training loop recorded."""

    spec: NetSpec  # which network
    seed: int  # seed of its weights and of its minibatch order
    model: ScaledShortcutMLP  # the trained network
    history: History  # training loss and test accuracy over steps


def degradation_experiment(config: DegradationConfig, data: Digits) -> dict[str, list[Run]]:
    """Train the four networks of ``config`` once per seed; return the runs by network label."""
    if not isinstance(config, DegradationConfig):
        raise TypeError(f"config must be a DegradationConfig, got {type(config).__name__}")
    if not isinstance(data, Digits):
        raise TypeError(f"data must be a gradflow.data.Digits, got {type(data).__name__}")
    runs: dict[str, list[Run]] = {}
    for spec in config.specs():
        for seed in config.seeds:
            model = build_network(spec, seed, data.x_train.shape[1])
            history = train_classifier(
                model,
                data,
                steps=config.steps,
                lr=config.lr,
                batch_size=config.batch_size,
                optimizer=config.optimizer,
                seed=seed,
                record_every=config.record_every,
            )
            runs.setdefault(spec.label, []).append(Run(spec, seed, model, history))
    return runs


def final_metrics(runs: Sequence[Run]) -> dict[str, float]:
    """Mean, min and max over the seeds of the final training loss and test accuracy."""
    if not runs:
        raise ValueError("runs is empty")
    loss = np.array([r.history.train_loss[-1] for r in runs])
    acc = np.array([r.history.test_accuracy[-1] for r in runs])
    return {
        "loss_mean": float(loss.mean()),
        "loss_min": float(loss.min()),
        "loss_max": float(loss.max()),
        "acc_mean": float(acc.mean()),
        "acc_min": float(acc.min()),
        "acc_max": float(acc.max()),
    }


def _style(spec: NetSpec, deep: bool) -> dict:
    return {
        "color": RESIDUAL if spec.use_shortcut else PLAIN,
        "linestyle": "-" if deep else "--",
        "marker": ("o" if spec.use_shortcut else "s") if deep else None,
        "markevery": 4,
        "markersize": 4,
    }


def plot_training_curves(
    runs: dict[str, list[Run]], figsize: tuple[float, float] = (9.6, 3.8)
) -> plt.Figure:
    """Training loss (log scale) and test accuracy over steps: mean line, band from min to max."""
    if not runs:
        raise ValueError("runs is empty")
    deepest = max(rs[0].spec.depth for rs in runs.values())
    with book_style():
        fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=figsize)
        for label, rs in runs.items():
            steps = np.array(rs[0].history.steps)
            style = _style(rs[0].spec, rs[0].spec.depth == deepest)
            for ax, key in ((ax_loss, "train_loss"), (ax_acc, "test_accuracy")):
                values = np.array([getattr(r.history, key) for r in rs])  # (seeds, records)
                ax.plot(steps, values.mean(0), label=label, **style)
                ax.fill_between(
                    steps, values.min(0), values.max(0), color=style["color"], alpha=0.15
                )
        ax_loss.set(yscale="log", xlabel="training step", ylabel="training loss (cross-entropy)")
        ax_acc.set(xlabel="training step", ylabel="test accuracy", ylim=(0, 1))
        ax_acc.legend(loc="center right", bbox_to_anchor=(1.0, 0.62))
    return finish(fig)


def plot_depth_sweep(
    results: dict[str, SweepResult],
    colors: Sequence[str],
    figsize: tuple[float, float] = (9.6, 3.8),
) -> plt.Figure:
    """First layer's gradient norm and last hidden layer's RMS against depth, log-log, per family."""
    if not results:
        raise ValueError("results is empty")
    if len(colors) < len(results):
        raise ValueError(f"need {len(results)} colors, got {len(colors)}")
    markers, dashes = ["s", "o", "^", "D"], ["-", "--", "-.", ":"]
    with book_style():
        fig, (ax_g, ax_a) = plt.subplots(1, 2, figsize=figsize)
        for k, (label, res) in enumerate(results.items()):
            style = {"color": colors[k], "marker": markers[k % 4], "linestyle": dashes[k % 4]}
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
