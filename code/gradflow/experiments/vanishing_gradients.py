"""Experiments of the lesson on vanishing gradients: sweeps over depth and initialisation, and
plain networks trained once per seed.

Everything here builds plain classifiers (``gradflow.mlp.build_mlp``, no shortcuts) on the digits and
measures one thing: the Frobenius norm of each layer's weight gradient after one backward pass on a
fixed batch (``gradflow.gradients.gradient_profile`` with ``statistic="norm"``). The initialisation
sweep follows Glorot & Bengio (2010) and He et al. (2015).
"""

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import torch
from torch import nn

from gradflow._checks import check_positive_int, check_tensor
from gradflow.data import Digits
from gradflow.gradients import gradient_profile, record_inputs
from gradflow.init import init_weights, seeded
from gradflow.mlp import build_mlp
from gradflow.seeds import Spread, spread
from gradflow.train import History, train_classifier


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
    if not depths:
        raise ValueError("depths is empty: give at least one depth")
    check_tensor(x, "x", ndim=2)
    return {
        d: weight_gradient_norms(
            build_mlp(d, width, x.shape[1], activation=activation, seed=seed), x, y, dtype
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


@torch.no_grad()
def backward_gains(model: nn.Module, x: torch.Tensor) -> dict[str, list[float]]:
    """For each hidden layer k >= 2, what bounds and what sets the backward factor D_{k-1} W_k^T.

    ``"spectral"``: the spectral norm of ``W_k``, the largest stretch of ``W_k^T``; ``"typical"``:
    its Frobenius norm over ``sqrt(n)``, the stretch of a vector in a random direction; ``"slope"``:
    the RMS over the batch of the slope ``phi'(a_{k-1})`` of the activation below, measured at the
    pre-activations of ``x``.
    """
    layers = list(model.layers)
    linears = [layer[0] for layer in layers]
    acts = [layer[1] for layer in layers[:-1]]  # the hidden activations
    with record_inputs(acts) as pre:  # a_1 ... a_{n-1}
        model(x.to(linears[0].weight.dtype))
    gains: dict[str, list[float]] = {"spectral": [], "typical": [], "slope": []}
    for w, a, act in zip((lin.weight for lin in linears[1:-1]), pre, acts, strict=False):
        with torch.enable_grad():
            z = a.clone().requires_grad_(True)
            (slope,) = torch.autograd.grad(act(z).sum(), z)  # phi'(a), elementwise
        gains["spectral"].append(torch.linalg.matrix_norm(w, ord=2).item())
        gains["typical"].append((w.norm() / math.sqrt(w.shape[0])).item())
        gains["slope"].append(slope.pow(2).mean().sqrt().item())
    return gains


@torch.no_grad()
def last_input_spread(model: nn.Module, x: torch.Tensor) -> float:
    """How much the input of the last layer varies across the examples of ``x``: std over the batch,
    averaged over the features."""
    check_tensor(x, "x", ndim=2)
    with record_inputs([model.layers[-1]]) as inputs:
        model(x.to(model.layers[-1][0].weight.dtype))
    return inputs[0].std(dim=0).mean().item()


@torch.no_grad()
def forward_spread(model: nn.Module, x: torch.Tensor) -> dict[str, list[float]]:
    """Layer by layer, how much the signal varies across the examples of ``x``, and a prediction.

    ``"spread"``: the std over the batch, averaged over the features, of every layer's input (``x``
    first, the last layer's input last); ``"predicted"``: for every hidden layer, the factor by which
    it should shrink that spread, its weights' typical gain ``||W_k||_F / sqrt(n)`` times the RMS
    slope of its activation at its pre-activations. Computed in the model's dtype.
    """
    layers = list(model.layers)
    acts = [layer[1] for layer in layers[:-1]]  # the hidden activations
    with record_inputs(layers) as inputs, record_inputs(acts) as pre:
        model(x.to(layers[0][0].weight.dtype))
    predicted = []
    for layer, a, act in zip(layers[:-1], pre, acts, strict=True):
        with torch.enable_grad():
            z = a.clone().requires_grad_(True)
            (slope,) = torch.autograd.grad(act(z).sum(), z)  # phi'(a), elementwise
        w = layer[0].weight
        gain = (w.norm() / math.sqrt(w.shape[0])).item()
        predicted.append(gain * slope.pow(2).mean().sqrt().item())
    return {"spread": [h.std(dim=0).mean().item() for h in inputs], "predicted": predicted}


def default_weight_scale(fan_in: int = 64, seed: int = 0) -> float:
    """std(W) * sqrt(fan_in) of a fresh ``nn.Linear``: PyTorch's default scale in units of 1/sqrt(n)."""
    check_positive_int(fan_in, "fan_in", minimum=2)
    with seeded(seed):
        w = nn.Linear(
            fan_in, 4096
        ).weight  # many draws, so the measured std is close to the true one
    return w.std().item() * math.sqrt(fan_in)


# The sweep's schemes, by the name the figure shows. With n = fan_in, a hidden layer's std is c / sqrt(n)
# with c = 0.5, 1 (Xavier, since fan_in = fan_out there), sqrt(2) (He) and 3.
INIT_SWEEP: dict[str, str | float] = {
    "too small": 0.5,
    "Xavier/Glorot": "xavier",  # std = sqrt(2 / (fan_in + fan_out))
    "He/Kaiming": "he",  # std = sqrt(2 / n)
    "too large": 3.0,
}


def init_sweep(
    activation: str,
    x: torch.Tensor,
    y: torch.Tensor,
    depth: int = 50,
    width: int = 64,
    schemes: Sequence[str] = tuple(INIT_SWEEP),
    seed: int = 0,
) -> dict[str, list[float]]:
    """For each initialisation scheme, the weight-gradient norms of the same plain network."""
    check_tensor(x, "x", ndim=2)
    if len(schemes) == 0:
        raise ValueError("schemes is empty: give at least one initialisation scheme")
    unknown = [scheme for scheme in schemes if scheme not in INIT_SWEEP]
    if unknown:
        raise ValueError(f"unknown scheme {unknown[0]!r}; choose one of {list(INIT_SWEEP)}")
    return {
        scheme: initialised_norms(activation, x, y, INIT_SWEEP[scheme], depth, width, seed)
        for scheme in schemes
    }


def initialised_norms(
    activation: str, x: torch.Tensor, y: torch.Tensor, init, depth: int, width: int, seed: int
) -> list[float]:
    """The weight-gradient norms of the plain network of ``seed`` with its weights drawn by ``init``
    (a scheme's name or a scale c, as ``gradflow.init.init_weights`` takes it; biases as PyTorch's)."""
    model = build_mlp(depth, width, x.shape[1], activation=activation, seed=seed)
    init_weights(model, init, seed=seed, zero_bias=False)
    return weight_gradient_norms(model, x, y)


# The explorer's weight scales c (std c / sqrt(fan_in)): from the sweep's "too small" to its "too large",
# through Xavier's 1 and He's sqrt(2).
SCALES = (0.5, 0.75, 1.0, 1.25, math.sqrt(2), 1.75, 2.0, 2.5, 3.0)


def scale_sweep(
    activation: str,
    x: torch.Tensor,
    y: torch.Tensor,
    scales: Sequence[float] = SCALES,
    depth: int = 50,
    width: int = 64,
    seed: int = 0,
) -> dict[float, list[float]]:
    """For each weight scale c, the weight-gradient norms of the same plain network drawn with it."""
    check_tensor(x, "x", ndim=2)
    if len(scales) == 0:
        raise ValueError("scales is empty: give at least one weight scale")
    return {c: initialised_norms(activation, x, y, c, depth, width, seed) for c in scales}


@dataclass
class SeedRun:
    """One seed's training run of a plain classifier on the digits."""

    history: History  # what train_classifier recorded every record_every steps
    spread_init: float  # last_input_spread of the batch at initialisation
    spread_trained: float  # the same after training

    def mean_update(self) -> list[float]:
        """Each weight matrix's relative update ||dW|| / ||W|| per step, averaged over the records."""
        return torch.tensor(self.history.relative_update).mean(dim=0).tolist()  # (layers,)


def train_seeds(
    activation: str,
    depth: int,
    data: Digits,
    x: torch.Tensor,
    seeds: Iterable[int],
    width: int = 64,
    steps: int = 800,
    lr: float = 0.1,
    record_every: int = 20,
) -> dict[int, SeedRun]:
    """Train the same plain network with SGD once per seed, which draws its weights and its
    minibatches of 64; ``x`` is the batch whose forward spread is measured before and after."""
    seeds = list(seeds)
    if not seeds:
        raise ValueError("seeds is empty: give at least one seed")
    runs = {}
    for seed in seeds:
        model = build_mlp(depth, width, x.shape[1], activation=activation, seed=seed)
        spread_init = last_input_spread(model, x)
        history = train_classifier(model, data, steps=steps, lr=lr, batch_size=64,
                                   optimizer="sgd", seed=seed, record_every=record_every)  # fmt: skip
        runs[seed] = SeedRun(history, spread_init, last_input_spread(model, x))
    return runs


def summarise_runs(runs: dict[int, SeedRun]) -> dict[str, Spread]:
    """Median, smallest and largest over the seeds of each number the lesson reports of a training:
    loss at the first and last record, final test accuracy, first and last layer's mean relative
    update and their ratio (last over first), and the forward spread before and after training."""
    if not runs:
        raise ValueError("runs is empty: give at least one seed's run")
    updates = [run.mean_update() for run in runs.values()]
    per_seed = {
        "loss_start": [run.history.train_loss[0] for run in runs.values()],
        "loss_end": [run.history.train_loss[-1] for run in runs.values()],
        "accuracy": [run.history.test_accuracy[-1] for run in runs.values()],
        "update_first": [u[0] for u in updates],
        "update_last": [u[-1] for u in updates],
        "update_span": [u[-1] / u[0] for u in updates],
        "spread_init": [run.spread_init for run in runs.values()],
        "spread_trained": [run.spread_trained for run in runs.values()],
    }
    return {key: spread(values) for key, values in per_seed.items()}
