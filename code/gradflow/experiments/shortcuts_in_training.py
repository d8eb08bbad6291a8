"""Experiments of the lesson on shortcuts in training: depth sweeps and the degradation problem.

``depth_sweep`` measures the first layer's gradient and the last hidden layer's activations of freshly
initialised networks of growing depth. ``degradation_experiment`` reproduces at CPU scale the
*degradation problem* of He et al. (2016, *Deep Residual Learning for Image Recognition*, Fig. 1 and
4): a deeper plain network trains worse than a shallower one, a deeper residual network does not.
``sharpness`` and ``loss_lines`` read the loss landscape around the networks' weights (Li et al.,
2018, *Visualizing the Loss Landscape of Neural Nets*). Networks are :class:`gradflow.mlp.ScaledShortcutMLP`, described by :class:`gradflow.mlp.NetSpec`.
"""

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
import torch
from torch import nn

from gradflow._checks import check_positive_int, check_tensor
from gradflow.data import Digits
from gradflow.gradients import gradient_profile, record_inputs
from gradflow.landscape import filter_normalized_direction, loss_line
from gradflow.mlp import NetSpec, ScaledShortcutMLP, build_network, fold_branch_scale
from gradflow.seeds import Spread, spread
from gradflow.train import History, train_classifier


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
    if not depths or not seeds:
        raise ValueError("depth_sweep needs at least one depth and one seed")
    result = SweepResult(depths, [], [])
    for depth in depths:
        grads, rms = [], []
        for seed in seeds:
            model = build_network(replace(spec, depth=depth), seed, x.shape[1])
            with record_inputs([model.layers[-1]]) as seen:  # the last layer's input
                profile = gradient_profile(model, x, y, "norm", nn.functional.cross_entropy)
            grads.append(profile[0])
            rms.append(seen[0].detach().pow(2).mean().sqrt().item())
        result.first_grad_norm.append(float(np.median(grads)))
        result.hidden_rms.append(float(np.median(rms)))
    return result


@torch.no_grad()
def stream_mean_squares(model: ScaledShortcutMLP, x: torch.Tensor) -> dict[str, list[float]]:
    """Mean squares of a residual network's stream and branches, block by block, for the batch ``x``.

    ``"stream"``: the stream entering every block and, last, the output layer's input (one more
    entry than there are blocks); ``"branch"``: what every block adds, ``scale * layer(h)``.
    """
    if not isinstance(model, ScaledShortcutMLP):
        raise TypeError(f"model must be a ScaledShortcutMLP, got {type(model).__name__}")
    check_tensor(x, "x", ndim=2)
    blocks = [layer for i, layer in enumerate(model.layers) if model.has_shortcut(i)]
    if len(blocks) != len(model.layers) - 1:
        raise ValueError("every hidden layer of the model needs a shortcut")
    with record_inputs(list(model.layers)) as seen:
        model(x)
    stream = [h.pow(2).mean().item() for h in seen]  # (B, C) -> one number per block
    branch = [
        (model.branch_scale * f(h)).pow(2).mean().item()
        for f, h in zip(blocks, seen[:-1], strict=True)
    ]
    return {"stream": stream, "branch": branch}


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
    steps: int = 400  # minibatch updates per run
    batch_size: int = 64  # digits per minibatch
    record_every: int = 25  # steps between two evaluations on the full training and test sets
    seeds: tuple[int, ...] = (0, 1, 2, 3, 4)  # one run per seed: weights and minibatch order
    shortcuts: tuple[bool, ...] = (False, True)  # which families to train: plain, residual or both

    def __post_init__(self):  # the training settings are checked by train_classifier, before a step
        check_degradation(self)

    def specs(self) -> list[NetSpec]:
        """The networks to train: shallow and deep, plain and residual (or the ``shortcuts`` asked for)."""
        return [
            NetSpec(d, res, self.init, self.scale_branches and res, self.width)
            for res in self.shortcuts
            for d in (self.shallow, self.deep)
        ]


@dataclass
class Run:
    """One training run: the network, its seed and what the training loop recorded."""

    spec: NetSpec  # which network
    seed: int  # seed of its weights and of its minibatch order
    model: ScaledShortcutMLP  # the trained network
    history: History  # training loss and test accuracy over steps


def check_degradation(config: DegradationConfig) -> None:
    """Raise a clear error unless ``config`` has seeds, known families and valid networks."""
    if len(config.seeds) == 0:
        raise ValueError("seeds is empty: give at least one seed")
    if not config.shortcuts or not set(config.shortcuts) <= {False, True}:
        raise ValueError(f"shortcuts must be False, True or both, got {config.shortcuts!r}")
    config.specs()  # each NetSpec checks its depth, width and init


def _check_inputs(config: DegradationConfig, data: Digits) -> None:
    if not isinstance(config, DegradationConfig):
        raise TypeError(f"config must be a DegradationConfig, got {type(config).__name__}")
    if not isinstance(data, Digits):
        raise TypeError(f"data must be a gradflow.data.Digits, got {type(data).__name__}")


def _train(model: nn.Module, config: DegradationConfig, data: Digits, seed: int):
    """Train ``model`` on ``data`` with the training settings of ``config``."""
    return train_classifier(
        model,
        data,
        steps=config.steps,
        lr=config.lr,
        batch_size=config.batch_size,
        optimizer=config.optimizer,
        seed=seed,
        record_every=config.record_every,
    )


def degradation_experiment(config: DegradationConfig, data: Digits) -> dict[str, list[Run]]:
    """Train the four networks of ``config`` once per seed; return the runs by network label."""
    _check_inputs(config, data)
    runs: dict[str, list[Run]] = {}
    for spec in config.specs():
        for seed in config.seeds:
            model = build_network(spec, seed, data.x_train.shape[1])
            history = _train(model, config, data, seed)
            runs.setdefault(spec.label, []).append(Run(spec, seed, model, history))
    return runs


def unscaled_control(config: DegradationConfig, data: Digits) -> list[Run]:
    """The deep residual network of ``config`` trained without a factor on its branches (s = 1).

    Each network starts as the function of the scaled one: the factor 1 / sqrt(depth) is folded into
    the initial weights (``gradflow.mlp.fold_branch_scale``), so the branches start equally small;
    training then updates them with no factor in front, at ``config.lr``, once per seed.
    """
    _check_inputs(config, data)
    spec = NetSpec(config.deep, True, config.init, True, config.width)  # the scaled network
    runs = []
    for seed in config.seeds:
        model = fold_branch_scale(build_network(spec, seed, data.x_train.shape[1]))  # s = 1
        history = _train(model, config, data, seed)
        runs.append(Run(spec, seed, model, history))
    return runs


def lr_sweep(
    config: DegradationConfig, data: Digits, lrs: Sequence[float]
) -> dict[float, dict[str, list[Run]]]:
    """The degradation experiment once per learning rate in ``lrs``; the runs by rate, then label."""
    if len(lrs) == 0:
        raise ValueError("lrs is empty: give at least one learning rate")
    return {lr: degradation_experiment(replace(config, lr=lr), data) for lr in lrs}


def final_metrics(runs: Sequence[Run], last: int = 1) -> dict[str, Spread]:
    """Median and range over the seeds of the final training loss and test accuracy.

    Each run's loss is the mean of its last ``last`` recorded values, which evens out the noise of a
    single evaluation; the accuracy is the last recorded one. A run that diverged (a loss of NaN)
    counts as an infinite loss: the worst outcome, not a missing one.
    """
    if not runs:
        raise ValueError("runs is empty")
    check_positive_int(last, "last")
    loss = np.array([np.mean(r.history.train_loss[-last:]) for r in runs])
    loss[np.isnan(loss)] = np.inf  # diverged
    acc = np.array([r.history.test_accuracy[-1] for r in runs])
    return {"loss": spread(loss), "accuracy": spread(acc)}


@dataclass
class Sharpness:
    """The loss along two filter-normalised directions through a network's weights (a cross)."""

    centre: float  # loss at the weights themselves
    rise: dict[float, float]  # distance -> mean loss at the 4 points that far, minus centre
    lowest_at_centre: bool  # no point of the cross has a lower loss than the centre


def sharpness(
    model: nn.Module,
    data: Digits,
    distances: Sequence[float] = (0.5, 1.0),
    direction_seeds: tuple[int, int] = (1, 2),
) -> Sharpness:
    """The loss rise of ``gradflow.landscape.loss_rise``, from the two axes of the plane alone.

    ``loss_rise`` reads only the plane's two axes, so evaluating those (4 points per distance and the
    centre) gives the same numbers as the whole plane at a fraction of its cost.
    """
    alphas = [0.0] + [s * d for d in distances for s in (-1.0, 1.0)]
    x, y = data.x_train, data.y_train
    axes = [
        loss_line(model, x, y, filter_normalized_direction(model, s), alphas)
        for s in direction_seeds
    ]
    centre = float(axes[0][0])
    rise = {
        d: float(np.mean([a[1 + 2 * i + k] for a in axes for k in (0, 1)]) - centre)
        for i, d in enumerate(distances)
    }
    lowest = all(a.min() >= centre for a in axes)
    return Sharpness(centre, rise, lowest)


def loss_lines(
    runs: dict[str, list[Run]],
    data: Digits,
    coords: Sequence[float],
    seeds: Sequence[int],
    direction_seed: int = 1,
) -> dict[tuple[int, int, bool], dict[str, np.ndarray]]:
    """The loss along one filter-normalised direction through each network of ``runs`` whose seed
    is in ``seeds``, as initialised and as trained: ``lines[(depth, seed, trained)]["plain"]`` and
    ``["residual"]``, the losses at ``coords`` on the whole training set. The direction (seed
    ``direction_seed``, the landscapes' first axis) is normalised to the weights it starts from."""
    if not isinstance(runs, dict) or not runs:
        raise TypeError(
            "runs must be a non-empty dict {label: runs}, as degradation_experiment gives"
        )
    if not isinstance(data, Digits):
        raise TypeError(f"data must be a gradflow.data.Digits, got {type(data).__name__}")
    missing = sorted({*seeds} - {r.seed for rs in runs.values() for r in rs})
    if not seeds or missing:
        raise ValueError(f"seeds must be among the runs' seeds; not found: {missing or seeds!r}")
    x, y = data.x_train, data.y_train
    lines: dict[tuple[int, int, bool], dict[str, np.ndarray]] = {}
    for run in (r for rs in runs.values() for r in rs if r.seed in seeds):
        family = "residual" if run.spec.use_shortcut else "plain"
        initial = build_network(run.spec, run.seed, x.shape[1])  # the run's weights at step 0
        for trained, net in ((False, initial), (True, run.model)):
            direction = filter_normalized_direction(net, direction_seed)
            line = loss_line(net, x, y, direction, coords)
            lines.setdefault((run.spec.depth, run.seed, trained), {})[family] = line
    return lines
