"""Experiments of the chapter on why residual networks work (figures: ``gradflow.plots``).

Five views of the residual connection, each measured on MLPs for the 8x8 digits: the identity is easy
to represent (He et al., 2016), the network unrolls into an ensemble of mostly short paths and
survives the deletion of blocks (Veit et al., 2016), its input gradients do not shatter (Balduzzi et
al., 2017), and a zero-initialised gate on each branch makes depth free at initialisation (ReZero,
Bachlechner et al., 2020; SkipInit, De & Smith, 2020). Measurements live in ``gradflow.paths``.
"""

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import torch
from torch import nn

from gradflow._checks import check_int, check_positive_int, check_positive_number
from gradflow.data import Digits
from gradflow.init import book_seed, generator, init_weights, seeded
from gradflow.mlp import GatedResidualMLP, NetSpec, ScaledShortcutMLP, build_network
from gradflow.paths import (
    input_gradients,
    jacobian_singular_values,
    lesion,
    path_counts,
    path_gradients,
    signal_rms,
)
from gradflow.train import History, evaluate, fit_regression, train_classifier


def _check_digits(data) -> Digits:
    if not isinstance(data, Digits):
        raise TypeError(f"data must be a gradflow.data.Digits, got {type(data).__name__}")
    return data


# -- 1. The identity is easy ------------------------------------------------------------------------


@dataclass(frozen=True)
class IdentityConfig:
    """Learning a map from the 64 digit features to 64 outputs with a deep network."""

    depth: int = 16  # hidden layers; every network has depth + 1 Linear layers of width 64
    steps: int = 400  # Adam updates
    lr: float = 1e-3  # Adam's learning rate
    batch_size: int = 64  # digits per minibatch
    record_every: int = 100  # steps between two evaluations on the whole training set
    map_scale: float = (
        0.3  # the second task's map is I + map_scale * G / sqrt(64), G standard normal
    )
    seed: int = 0  # weights, minibatch order and the random map

    def __post_init__(self):
        for name in ("depth", "steps", "batch_size", "record_every"):
            check_positive_int(getattr(self, name), name)
        check_positive_number(self.lr, "lr")
        check_positive_number(self.map_scale, "map_scale")
        check_int(self.seed, "seed")


def identity_networks(depth: int, seed: int, width: int = 64) -> dict[str, nn.Module]:
    """Three networks of ``depth + 1`` Linear layers that map ``width`` features to ``width``.

    Plain: ReLU layers and a final Linear layer, He initialisation. Residual: every layer is a
    block ``x + s * layer(x)`` with ``s = 1 / sqrt(depth + 1)``, He initialisation. Gated: blocks
    ``x + gate * layer(x)`` with every gate at zero, He initialisation.
    """
    check_positive_int(depth, "depth")
    sizes = [width] * (depth + 2)
    scale = 1 / math.sqrt(depth + 1)
    with seeded(seed):
        plain = init_weights(ScaledShortcutMLP(sizes, use_shortcut=False), "he")
    with seeded(seed):
        residual = init_weights(
            ScaledShortcutMLP(sizes, use_shortcut=True, branch_scale=scale), "he"
        )
    with seeded(seed):
        gated = init_weights(GatedResidualMLP(sizes), "he")
    return {"plain": plain, "residual, s = 1/√L": residual, "residual, gates at 0": gated}


@torch.no_grad()
def plain_identity(depth: int, offset: float, width: int = 64) -> ScaledShortcutMLP:
    """A plain network of ``depth`` ReLU layers and a linear one that is exactly the identity on
    inputs whose every coordinate is at least ``-offset``: ``ReLU(x + offset) - offset = x`` there.

    Every weight matrix is the identity; the first layer adds ``offset`` (so every unit is
    positive and each ReLU passes it unchanged), the output layer subtracts it again.
    """
    check_positive_int(depth, "depth")
    check_positive_number(offset, "offset")
    net = ScaledShortcutMLP([width] * (depth + 2), use_shortcut=False)
    for i, layer in enumerate(net.layers):
        layer[0].weight.copy_(torch.eye(width))
        layer[0].bias.fill_(offset if i == 0 else -offset if i == depth else 0.0)
    return net


def identity_experiment(
    config: IdentityConfig, data: Digits
) -> dict[str, dict[str, tuple[list[int], list[float]]]]:
    """Train the three networks on two tasks: the identity, and a random map near the identity."""
    if not isinstance(config, IdentityConfig):
        raise TypeError(f"config must be an IdentityConfig, got {type(config).__name__}")
    x = _check_digits(data).x_train
    width = x.shape[1]
    gen = generator(config.seed)
    near = torch.eye(width) + config.map_scale * torch.randn(
        width, width, generator=gen
    ) / math.sqrt(width)
    tasks = {"identity": x, "near-identity linear map": x @ near.T}  # (N, 64) targets
    results: dict[str, dict[str, tuple[list[int], list[float]]]] = {}
    for task, y in tasks.items():
        nets = identity_networks(config.depth, config.seed, width)
        results[task] = {
            name: fit_regression(
                net,
                x,
                y,
                config.steps,
                config.lr,
                config.batch_size,
                config.seed,
                config.record_every,
            )
            for name, net in nets.items()
        }
    return results


# -- Trained classifiers, shared by the path and lesion studies ------------------------------------


def train_digit_classifier(
    spec: NetSpec,
    data: Digits,
    seed: int = 0,
    steps: int = 500,
    lr: float = 0.05,
    record_every: int | None = None,
) -> tuple[ScaledShortcutMLP, History]:
    """Build ``spec`` and train it on the digits with plain SGD (the training chapter's settings),
    recording every ``record_every`` steps (only at the start and the end unless given)."""
    _check_digits(data)
    model = build_network(spec, seed, data.x_train.shape[1])
    every = steps if record_every is None else record_every
    history = train_classifier(model, data, steps=steps, lr=lr, seed=seed, record_every=every)
    return model, history


# -- 2. The unrolled view: paths ---------------------------------------------------------------------


@dataclass
class PathStudy:
    """Gradient per path length of one residual network (Veit et al., Fig. 6)."""

    n_blocks: int  # residual blocks of the network
    counts: list[int]  # paths through exactly k branches, k = 0..n
    gradient: np.ndarray  # mean gradient norm at the input along one path of each length
    branch_scale: float = 1.0  # the fixed factor s on every branch
    total: np.ndarray = field(init=False)  # gradient of one path times the number of such paths

    def __post_init__(self):
        self.total = self.gradient * np.array(self.counts, dtype=float)

    @property
    def peak(self) -> int:
        """The path length whose paths carry the most gradient in total."""
        return int(np.argmax(self.total))

    def share_up_to(self, length: int) -> float:
        """The fraction of the total gradient carried by paths of at most ``length`` branches."""
        return float(self.total[: length + 1].sum() / self.total.sum())

    def factor_per_branch(self, up_to: int = 5) -> float:
        """How much one more branch multiplies a short path's gradient: the geometric mean of the
        ratios from length 0 to ``up_to``, ``(gradient[up_to] / gradient[0]) ** (1 / up_to)``."""
        k = min(check_positive_int(up_to, "up_to"), self.n_blocks)
        return float((self.gradient[k] / self.gradient[0]) ** (1 / k))

    @property
    def branch_gain(self) -> float:
        """The part of ``factor_per_branch`` that the branch's own Jacobian contributes: the factor
        divided by the imposed scale ``s``."""
        return self.factor_per_branch() / self.branch_scale


def path_study(
    model: ScaledShortcutMLP, data: Digits, samples: int = 8, batch: int = 128, seed: int = 0
) -> PathStudy:
    """Sample paths of every length through a residual network and measure their gradient."""
    _check_digits(data)
    x, y = data.x_train[:batch], data.y_train[:batch]
    gradient = path_gradients(model, x, y, samples=samples, seed=seed)
    n = len(gradient) - 1
    return PathStudy(n, path_counts(n), gradient, model.branch_scale)


PATH_FAMILIES = {  # name -> the network of a given depth
    "residual, He init, s = 1/√L": lambda depth: NetSpec(depth, True, "he", True),
    "residual, PyTorch default init, s = 1": lambda depth: NetSpec(depth, True, "torch"),
}


@dataclass
class PathStudies:
    """Path studies of residual networks of several depths, before and after training."""

    at_init: dict[tuple[str, int], PathStudy]  # (family, blocks) -> study of the untrained network
    trained: dict[tuple[str, int], PathStudy]  # (family, blocks) -> study after training
    models: dict[tuple[str, int], ScaledShortcutMLP]  # (family, blocks) -> the trained network
    histories: dict[tuple[str, int], History] = field(default_factory=dict)  # their training


def path_studies(
    data: Digits,
    depths: dict[str, Sequence[int]],
    seed: int = 0,
    samples: int = 8,
    record_every: int | None = None,
) -> PathStudies:
    """Build each family of ``PATH_FAMILIES`` at its ``depths``; study its paths, train, study again.
    The training records every ``record_every`` steps (see ``train_digit_classifier``)."""
    _check_digits(data)
    out = PathStudies({}, {}, {})
    for family, family_depths in depths.items():
        if family not in PATH_FAMILIES:
            raise ValueError(f"unknown family {family!r}; choose from {list(PATH_FAMILIES)}")
        for depth in family_depths:
            spec = PATH_FAMILIES[family](check_positive_int(depth, "depth"))
            key = (family, depth)
            untrained = build_network(spec, seed, data.x_train.shape[1])
            out.at_init[key] = path_study(untrained, data, samples=samples, seed=seed)
            out.models[key], out.histories[key] = train_digit_classifier(
                spec, data, seed=seed, record_every=record_every
            )
            out.trained[key] = path_study(out.models[key], data, samples=samples, seed=seed)
    return out


# -- 3. Shattered gradients -----------------------------------------------------------------------------


def digit_line(data: Digits, points: int = 256, pair: tuple[int, int] = (0, 1)) -> torch.Tensor:
    """``points`` inputs evenly spaced on the straight line between two test digits."""
    _check_digits(data)
    check_positive_int(points, "points", minimum=2)
    a, b = data.x_test[pair[0]], data.x_test[pair[1]]
    t = torch.linspace(0, 1, points)[:, None]  # (points, 1)
    return a + t * (b - a)  # (points, 64)


def lagged_correlation(grads: torch.Tensor, lag: int, centred: bool = True) -> float:
    """Mean correlation between the gradients at inputs ``lag`` steps apart on a line.

    Centred, as Balduzzi et al. measure it: the mean gradient over the line is subtracted first, so
    a part that is the same at every input (a residual network's identity path) does not count.
    Uncentred, it is the plain cosine similarity of the raw gradients.
    """
    check_positive_int(lag, "lag")
    if grads.shape[0] <= lag:
        raise ValueError(f"a lag of {lag} needs more than {lag} gradients, got {grads.shape[0]}")
    g = grads.double()  # (points, C_in)
    if centred:
        g = g - g.mean(dim=0)  # what changes along the line
    return nn.functional.cosine_similarity(g[lag:], g[:-lag], dim=1).mean().item()


@dataclass
class ShatterSweep:
    """Gradient correlation and Jacobian conditioning at initialisation, per family and depth."""

    depths: list[int]
    seeds: list[int]
    line: dict[str, np.ndarray]  # centred correlation `lag` steps apart, (depths, seeds)
    uncentred: dict[str, np.ndarray]  # the same without centring, (depths, seeds)
    singular_values: dict[str, np.ndarray]  # Jacobian singular values at the deepest depth

    def median(self, name: str, centred: bool = True) -> np.ndarray:
        """The median over the seeds, one value per depth."""
        return np.median((self.line if centred else self.uncentred)[name], axis=1)


SHATTER_FAMILIES = {
    "plain, He init": {"use_shortcut": False, "init": "he"},
    "residual, He init, s = 1/√L": {"use_shortcut": True, "init": "he", "scale_branches": True},
}


def shatter_sweep(
    data: Digits,
    depths: Sequence[int] = (2, 4, 8, 16, 32, 64),
    seeds: Sequence[int] = (0, 1, 2, 3, 4),
    lag: int = 32,
) -> ShatterSweep:
    """Measure, at initialisation, how correlated the input gradients of nearby inputs stay."""
    _check_digits(data)
    depths = [check_positive_int(d, "depth") for d in depths]
    if not depths or not seeds:
        raise ValueError("shatter_sweep needs at least one depth and one seed")
    line = digit_line(data)
    out = ShatterSweep(depths, list(seeds), {}, {}, {})
    for name, kw in SHATTER_FAMILIES.items():
        centred, raw = np.zeros((len(depths), len(seeds))), np.zeros((len(depths), len(seeds)))
        for i, depth in enumerate(depths):
            for j, seed in enumerate(seeds):
                grads = input_gradients(build_network(NetSpec(depth, **kw), seed), line)
                centred[i, j] = lagged_correlation(grads, lag)
                raw[i, j] = lagged_correlation(grads, lag, centred=False)
        out.line[name], out.uncentred[name] = centred, raw
        model = build_network(NetSpec(max(depths), **kw), seeds[0])
        out.singular_values[name] = jacobian_singular_values(model, data.x_test[:1]).numpy()
    return out


# -- 4. Lesion study ----------------------------------------------------------------------------------


@dataclass
class LesionResult:
    """Test accuracy of one trained network after deleting blocks."""

    baseline: float  # test accuracy of the intact network
    single: list[float]  # test accuracy with block i deleted, one entry per hidden layer
    several: dict[int, float]  # number of blocks deleted at random -> mean test accuracy

    @property
    def mean_single_drop(self) -> float:
        """Mean drop in test accuracy when one block is deleted."""
        return self.baseline - float(np.mean(self.single))


def lesion_study(
    model: nn.Module,
    data: Digits,
    counts: Sequence[int] = (1, 2, 4, 6, 8, 10, 12),
    draws: int = 20,
    seed: int = 0,
) -> LesionResult:
    """Delete every block in turn, then ``k`` random blocks (``draws`` times each k)."""
    _check_digits(data)
    check_positive_int(draws, "draws")
    n_hidden = len(model.layers) - 1

    def accuracy() -> float:
        return evaluate(model, data.x_test, data.y_test)[1]

    model.eval()
    baseline = accuracy()
    single = []
    for i in range(n_hidden):
        with lesion(model, [i]):
            single.append(accuracy())
    rng = np.random.default_rng(book_seed(seed))
    several = {}
    for k in counts:
        if not 1 <= k <= n_hidden:
            raise ValueError(f"cannot delete {k} of {n_hidden} blocks")
        accs = []
        for _ in range(draws):
            with lesion(model, rng.choice(n_hidden, size=k, replace=False).tolist()):
                accs.append(accuracy())
        several[k] = float(np.mean(accs))
    return LesionResult(baseline, single, several)


@dataclass
class LesionSeeds:
    """Lesion studies of plain and residual networks of one depth, trained with several seeds."""

    seeds: list[int]
    results: dict[str, list[LesionResult]]  # network -> one lesion study per seed

    def values(self, name: str, what: str) -> np.ndarray:
        """One number per seed: ``baseline``, ``mean_single`` (accuracy with one block deleted, on
        average), ``mean_single_drop``, ``worst_single`` or ``several[k]`` for an int ``k``."""
        pick = {
            "baseline": lambda r: r.baseline,
            "mean_single": lambda r: float(np.mean(r.single)),
            "mean_single_drop": lambda r: r.mean_single_drop,
            "worst_single": lambda r: min(r.single),
        }
        if isinstance(what, int):
            return np.array([r.several[what] for r in self.results[name]])
        return np.array([pick[what](r) for r in self.results[name]])


LESION_FAMILIES = {
    "plain, He init": NetSpec(16, False, "he"),
    "residual, He init, s = 1/√L": NetSpec(16, True, "he", True),
    "residual, PyTorch default init, s = 1": NetSpec(16, True, "torch"),
}


def check_trained(trained: dict[str, nn.Module], depth: int) -> dict[str, nn.Module]:
    """Return ``trained`` if it maps names of ``LESION_FAMILIES`` to networks of ``depth`` blocks."""
    for name, model in trained.items():
        if name not in LESION_FAMILIES:
            raise ValueError(f"unknown family {name!r}; choose from {list(LESION_FAMILIES)}")
        if len(model.layers) - 1 != depth:
            raise ValueError(
                f"the trained {name!r} has {len(model.layers) - 1} blocks, not {depth}"
            )
    return trained


def lesion_over_seeds(
    data: Digits,
    depth: int = 16,
    seeds: Sequence[int] = (0, 1, 2, 3, 4),
    counts: Sequence[int] = (1, 2, 4, 6, 8, 10, 12),
    draws: int = 20,
    trained: dict[str, nn.Module] | None = None,
) -> LesionSeeds:
    """Train each of ``LESION_FAMILIES`` with ``depth`` hidden layers per seed; lesion each.

    ``trained`` maps a family's name to its network already trained by ``train_digit_classifier``
    with the first seed (as ``path_studies`` trains it), which is used instead of training it again.
    """
    _check_digits(data)
    check_positive_int(depth, "depth")
    if not seeds:
        raise ValueError("lesion_over_seeds needs at least one seed")
    trained = check_trained(dict(trained or {}), depth)
    results: dict[str, list[LesionResult]] = {}
    for name, spec in LESION_FAMILIES.items():
        for i, seed in enumerate(seeds):
            if i == 0 and name in trained:
                model = trained[name]
            else:
                model, _ = train_digit_classifier(replace(spec, depth=depth), data, seed=seed)
            results.setdefault(name, []).append(lesion_study(model, data, counts, draws, seed))
    return LesionSeeds(list(seeds), results)


# -- 5. Initialising for free depth -----------------------------------------------------------------


def init_networks(depth: int, seed: int = 0, width: int = 64) -> dict[str, nn.Module]:
    """Five residual classifiers of ``depth`` blocks, differing only in how their branches start.

    A fixed factor s on every branch (``ScaledShortcutMLP``) or a learnable gate (``GatedResidualMLP``),
    starting far from the identity (s = 1 or 1/sqrt(L)) or close to it (1/L or 0).
    """
    check_positive_int(depth, "depth")
    sizes = [width] * (depth + 1) + [10]
    nets = {}
    with seeded(seed):
        nets["residual, PyTorch default init, s = 1"] = ScaledShortcutMLP(sizes, use_shortcut=True)
    for name, s in (("s = 1/√L", 1 / math.sqrt(depth)), ("s = 1/L", 1 / depth)):
        with seeded(seed):
            model = ScaledShortcutMLP(sizes, use_shortcut=True, branch_scale=s)
            nets[f"residual, He init, {name}"] = init_weights(model, "he")
    for name, gate in (("gates at 1/√L", 1 / math.sqrt(depth)), ("gates at 0", 0.0)):
        with seeded(seed):
            model = GatedResidualMLP(sizes, gate_init=gate)  # the gates are learned
            nets[f"residual, He init, {name}"] = init_weights(model, "he")
    return nets


# networks whose loss overflows within a few steps (the chapter checks it for every seed): they are
# trained for `short_steps` only, recorded every ten steps
SHORT_RUNS = ("residual, PyTorch default init, s = 1", "residual, He init, gates at 1/√L")


@dataclass
class InitRun:
    """One network of the initialisation experiment: its signal at init and its training record."""

    rms: list[float]  # RMS of the signal entering each layer at initialisation
    history: History  # training loss and test accuracy over steps


@dataclass
class InitExperiment:
    """The initialisation experiment: the first seed in full, the end of training for every seed."""

    seeds: list[int]
    runs: dict[str, InitRun]  # the first seed's networks: signal at init, training record
    initial_loss: dict[str, list[float]]  # network -> training loss before the first step, per seed
    final_loss: dict[str, list[float]]  # network -> training loss after the last step, per seed
    final_accuracy: dict[str, list[float]]  # network -> test accuracy after the last step, per seed
    overflow_step: dict[str, list[float]]  # network -> first recorded non-finite loss (inf: none)

    def per_seed(self, what: str, name: str) -> np.ndarray:
        """Field ``what`` of network ``name``, one value per seed; a loss that overflowed is inf."""
        values = np.array(getattr(self, what)[name], dtype=float)
        return values if what == "final_accuracy" else np.where(np.isnan(values), np.inf, values)


def init_experiment(
    data: Digits,
    depth: int = 32,
    steps: int = 500,
    lr: float = 0.05,
    seeds: Sequence[int] = (0, 1, 2, 3, 4),
    short_steps: int = 50,
    record_every: int = 50,
    trained: dict[str, tuple[nn.Module, History]] | None = None,
) -> InitExperiment:
    """Measure the signal at initialisation, then train each of ``init_networks`` with plain SGD.

    The first seed records the loss every ``record_every`` steps; the other seeds only at the start
    and the end. The networks of ``SHORT_RUNS`` are trained for ``short_steps`` steps only,
    recorded every ten, which is long enough to see whether their loss overflows. ``trained`` maps
    a network's name to the same network already trained with the first seed, ``steps``, ``lr`` and
    ``record_every`` (as ``path_studies`` trains it), and its history: it is not trained again.
    """
    _check_digits(data)
    check_positive_int(short_steps, "short_steps")
    check_positive_int(record_every, "record_every")
    if not seeds:
        raise ValueError("init_experiment needs at least one seed")
    trained = dict(trained or {})
    expected = sorted({*range(0, steps + 1, record_every), steps})  # the first seed's records
    for name, (_, history) in trained.items():
        if name in SHORT_RUNS or name not in init_networks(1):
            raise ValueError(f"{name!r} is not one of the networks trained for {steps} steps")
        if history.steps != expected:
            raise ValueError(f"the trained {name!r} recorded at {history.steps}, not {expected}")
    out = InitExperiment(list(seeds), {}, {}, {}, {}, {})
    for i, seed in enumerate(seeds):
        for name, model in init_networks(depth, seed, data.x_train.shape[1]).items():
            short = name in SHORT_RUNS
            n_steps = min(steps, short_steps) if short else steps
            every = 10 if short else record_every if i == 0 else n_steps
            rms = signal_rms(model, data.x_train[:256]) if i == 0 else []
            if i == 0 and name in trained:
                history = trained[name][1]
            else:
                with np.errstate(all="ignore"):  # a loss that overflows is recorded, not raised
                    history = train_classifier(
                        model, data, n_steps, lr, seed=seed, record_every=every
                    )
            if i == 0:
                out.runs[name] = InitRun(rms, history)
            out.initial_loss.setdefault(name, []).append(history.train_loss[0])
            out.final_loss.setdefault(name, []).append(history.train_loss[-1])
            out.final_accuracy.setdefault(name, []).append(history.test_accuracy[-1])
            step = first_nonfinite_step(history)
            out.overflow_step.setdefault(name, []).append(math.inf if step is None else step)
    return out


def first_nonfinite_step(history: History) -> int | None:
    """The first recorded step whose training loss is not a finite number, or None."""
    for step, loss in zip(history.steps, history.train_loss, strict=True):
        if not math.isfinite(loss):
            return step
    return None
