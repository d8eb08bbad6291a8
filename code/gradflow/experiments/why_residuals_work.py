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
from gradflow.experiments.shortcuts_in_training import NetSpec, build_network
from gradflow.init import book_seed, generator, init_weights, seeded
from gradflow.mlp import GatedResidualMLP, ScaledShortcutMLP
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
    steps: int = 600  # Adam updates
    lr: float = 1e-3  # Adam's learning rate
    batch_size: int = 64  # digits per minibatch
    record_every: int = 50  # steps between two evaluations on the whole training set
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
    spec: NetSpec, data: Digits, seed: int = 0, steps: int = 500, lr: float = 0.05
) -> tuple[ScaledShortcutMLP, History]:
    """Build ``spec`` and train it on the digits with plain SGD (the training chapter's settings)."""
    _check_digits(data)
    model = build_network(spec, seed, data.x_train.shape[1])
    history = train_classifier(model, data, steps=steps, lr=lr, seed=seed, record_every=steps)
    return model, history


# -- 2. The unrolled view: paths ---------------------------------------------------------------------


@dataclass
class PathStudy:
    """Gradient per path length of one trained residual network (Veit et al., Fig. 6)."""

    n_blocks: int  # residual blocks of the network
    counts: list[int]  # paths through exactly k branches, k = 0..n
    gradient: np.ndarray  # mean gradient norm at the input along one path of each length
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


def path_study(
    model: ScaledShortcutMLP, data: Digits, samples: int = 16, batch: int = 128, seed: int = 0
) -> PathStudy:
    """Sample paths of every length through a trained residual network and measure their gradient."""
    _check_digits(data)
    x, y = data.x_train[:batch], data.y_train[:batch]
    gradient = path_gradients(model, x, y, samples=samples, seed=seed)
    return PathStudy(len(gradient) - 1, path_counts(len(gradient) - 1), gradient)


# -- 3. Shattered gradients -----------------------------------------------------------------------------


def digit_line(data: Digits, points: int = 256, pair: tuple[int, int] = (0, 1)) -> torch.Tensor:
    """``points`` inputs evenly spaced on the straight line between two test digits."""
    _check_digits(data)
    check_positive_int(points, "points", minimum=2)
    a, b = data.x_test[pair[0]], data.x_test[pair[1]]
    t = torch.linspace(0, 1, points)[:, None]  # (points, 1)
    return a + t * (b - a)  # (points, 64)


def lagged_correlation(grads: torch.Tensor, lag: int) -> float:
    """Mean cosine similarity between the gradients at inputs ``lag`` steps apart on a line."""
    check_positive_int(lag, "lag")
    if grads.shape[0] <= lag:
        raise ValueError(f"a lag of {lag} needs more than {lag} gradients, got {grads.shape[0]}")
    g = grads.double()
    return nn.functional.cosine_similarity(g[lag:], g[:-lag], dim=1).mean().item()


def pairwise_correlation(grads: torch.Tensor) -> float:
    """Mean cosine similarity between the gradients of every pair of different inputs."""
    g = nn.functional.normalize(grads.double(), dim=1)
    sim = g @ g.T  # (N, N)
    off = ~torch.eye(len(g), dtype=torch.bool)
    return sim[off].mean().item()


@dataclass
class ShatterSweep:
    """Gradient correlation and Jacobian conditioning at initialisation, per family and depth."""

    depths: list[int]
    line: dict[str, list[float]]  # correlation of gradients `lag` steps apart on a line of inputs
    pairs: dict[str, list[float]]  # mean correlation of gradients between different test digits
    singular_values: dict[str, np.ndarray]  # Jacobian singular values at the deepest depth


SHATTER_FAMILIES = {
    "plain, He init": {"use_shortcut": False, "init": "he"},
    "residual, He init, s = 1/√L": {"use_shortcut": True, "init": "he", "scale_branches": True},
}


def shatter_sweep(
    data: Digits,
    depths: Sequence[int] = (2, 4, 8, 16, 32, 64),
    seeds: Sequence[int] = (0, 1, 2),
    lag: int = 32,
    n_digits: int = 200,
) -> ShatterSweep:
    """Measure, at initialisation, how correlated the input gradients of nearby inputs stay."""
    _check_digits(data)
    depths = [check_positive_int(d, "depth") for d in depths]
    if not depths or not seeds:
        raise ValueError("shatter_sweep needs at least one depth and one seed")
    line = digit_line(data)
    digits = data.x_test[:n_digits]
    out = ShatterSweep(depths, {}, {}, {})
    for name, kw in SHATTER_FAMILIES.items():
        out.line[name], out.pairs[name] = [], []
        for depth in depths:
            on_line, across = [], []
            for seed in seeds:
                model = build_network(NetSpec(depth, **kw), seed)
                on_line.append(lagged_correlation(input_gradients(model, line), lag))
                across.append(pairwise_correlation(input_gradients(model, digits)))
            out.line[name].append(float(np.median(on_line)))
            out.pairs[name].append(float(np.median(across)))
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
}


def lesion_over_seeds(
    data: Digits,
    depth: int = 16,
    seeds: Sequence[int] = (0, 1, 2, 3, 4),
    counts: Sequence[int] = (1, 2, 4, 6, 8, 10, 12),
) -> LesionSeeds:
    """Train a plain and a residual network of ``depth`` hidden layers per seed; lesion each."""
    _check_digits(data)
    check_positive_int(depth, "depth")
    if not seeds:
        raise ValueError("lesion_over_seeds needs at least one seed")
    results: dict[str, list[LesionResult]] = {}
    for name, spec in LESION_FAMILIES.items():
        for seed in seeds:
            model, _ = train_digit_classifier(replace(spec, depth=depth), data, seed=seed)
            results.setdefault(name, []).append(lesion_study(model, data, counts, seed=seed))
    return LesionSeeds(list(seeds), results)


# -- 5. Initialising for free depth -----------------------------------------------------------------


def init_networks(depth: int, seed: int = 0, width: int = 64) -> dict[str, nn.Module]:
    """Three residual classifiers of ``depth`` blocks, differing only in how they start."""
    check_positive_int(depth, "depth")
    sizes = [width] * (depth + 1) + [10]
    with seeded(seed):
        default = ScaledShortcutMLP(sizes, use_shortcut=True)
    with seeded(seed):
        scaled = init_weights(
            ScaledShortcutMLP(sizes, use_shortcut=True, branch_scale=1 / math.sqrt(depth)), "he"
        )
    with seeded(seed):
        gated = init_weights(GatedResidualMLP(sizes), "he")
    return {
        "residual, PyTorch default init": default,
        "residual, He init, s = 1/√L": scaled,
        "residual, He init, gates at 0": gated,
    }


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
    depth: int = 64,
    steps: int = 500,
    lr: float = 0.05,
    seeds: Sequence[int] = (0, 1, 2, 3, 4),
    default_steps: int = 50,
) -> InitExperiment:
    """Measure the signal at initialisation, then train each of ``init_networks`` with plain SGD.

    The first seed records the loss every 25 steps; the other seeds only at the end. PyTorch's
    default initialisation is trained for ``default_steps`` steps only, recorded every ten, which
    is long enough to see whether its loss overflows.
    """
    _check_digits(data)
    check_positive_int(default_steps, "default_steps")
    if not seeds:
        raise ValueError("init_experiment needs at least one seed")
    out = InitExperiment(list(seeds), {}, {}, {}, {}, {})
    for i, seed in enumerate(seeds):
        for name, model in init_networks(depth, seed, data.x_train.shape[1]).items():
            default = name == "residual, PyTorch default init"
            n_steps = min(steps, default_steps) if default else steps
            every = 10 if default else 25 if i == 0 else n_steps
            rms = signal_rms(model, data.x_train[:256]) if i == 0 else []
            with np.errstate(all="ignore"):  # the default network's loss overflows; it is recorded
                history = train_classifier(model, data, n_steps, lr, seed=seed, record_every=every)
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
