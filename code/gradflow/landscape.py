"""Loss landscapes: the loss on a line or a plane through a network's trained weights.

Follows Li et al. (2018), *Visualizing the Loss Landscape of Neural Nets*: pick random Gaussian
directions in weight space, rescale them with *filter normalisation* (each neuron's slice of a
direction gets the norm of the same neuron's weights), and evaluate the loss at
``weights + a * d1 + b * d2`` on a grid of ``(a, b)``. Biases and normalisation parameters (every
1-D parameter) get a zero direction, as in the paper's code (``ignore='biasbn'``). A direction is a
dict ``{parameter name: tensor}`` shaped like ``model.named_parameters()``. The figures are in
``gradflow.plots.shortcuts_in_training``.
"""

from collections.abc import Callable, Sequence

import numpy as np
import torch
from torch import nn
from torch.func import functional_call

from gradflow._checks import check_int, check_positive_int, check_tensor
from gradflow.init import generator

Direction = dict[str, torch.Tensor]


def _check_model(model) -> nn.Module:
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    return model


def _check_direction(direction, model: nn.Module, name: str = "direction") -> Direction:
    """Raise unless ``direction`` has exactly the model's parameter names and shapes."""
    if not isinstance(direction, dict):
        raise TypeError(f"{name} must be a dict of parameter name -> tensor, got {type(direction)}")
    params = dict(model.named_parameters())
    if set(direction) != set(params):
        missing, extra = sorted(set(params) - set(direction)), sorted(set(direction) - set(params))
        raise ValueError(
            f"{name} does not match the model's parameters: missing {missing}, extra {extra}"
        )
    for key, p in params.items():
        if not isinstance(direction[key], torch.Tensor):
            raise TypeError(
                f"{name}[{key!r}] must be a tensor, got {type(direction[key]).__name__}"
            )
        if direction[key].shape != p.shape:
            raise ValueError(
                f"{name}[{key!r}] has shape {tuple(direction[key].shape)} but the parameter has "
                f"shape {tuple(p.shape)}"
            )
    return direction


def random_direction(model: nn.Module, seed: int = 0) -> Direction:
    """A Gaussian direction shaped like the model's parameters; zero for 1-D ones (biases, norms)."""
    _check_model(model)
    check_int(seed, "seed")
    gen = generator(seed)
    return {
        name: (
            torch.randn(p.shape, generator=gen, dtype=p.dtype)
            if p.dim() >= 2
            else torch.zeros(p.shape, dtype=p.dtype)
        )
        for name, p in model.named_parameters()
    }


def filter_normalize(direction: Direction, model: nn.Module, eps: float = 1e-10) -> Direction:
    """Rescale each filter (row of a Linear weight) of ``direction`` to that filter's weight norm.

    A Linear weight ``(out, in)`` has one filter per output neuron: its row. A convolution's
    ``(out, in, kh, kw)`` weight has one per output channel. 1-D parameters get a zero direction.
    """
    _check_model(model)
    _check_direction(direction, model)
    out = {}
    for name, p in model.named_parameters():
        d, w = direction[name].detach(), p.detach()
        if w.dim() <= 1:
            out[name] = torch.zeros_like(w)  # biases and normalisation parameters stay put
            continue
        d_rows, w_rows = d.reshape(d.shape[0], -1), w.reshape(w.shape[0], -1)  # (out, in * ...)
        scale = w_rows.norm(dim=1, keepdim=True) / (d_rows.norm(dim=1, keepdim=True) + eps)
        out[name] = (d_rows * scale).reshape(w.shape)
    return out


def filter_normalized_direction(model: nn.Module, seed: int = 0) -> Direction:
    """A random Gaussian direction, filter-normalised to the model's current weights."""
    return filter_normalize(random_direction(model, seed), model)


def grid_coordinates(span: float = 1.0, steps: int = 21) -> np.ndarray:
    """``steps`` evenly spaced coordinates from ``-span`` to ``span``; an odd count includes 0."""
    if isinstance(span, bool) or not isinstance(span, (int, float)) or span <= 0:
        raise ValueError(f"span must be a positive number, got {span!r}")
    check_positive_int(steps, "steps (grid points per axis)", minimum=2)
    coords = np.linspace(-span, span, steps)
    if steps % 2 == 1:
        coords[steps // 2] = 0.0  # exactly the trained weights, not 1e-17 away
    return coords


def _check_coords(coords, name: str) -> np.ndarray:
    arr = np.asarray(coords, dtype=float)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be a 1-D sequence of numbers, got shape {arr.shape}")
    if arr.size < 2:
        raise ValueError(f"the grid needs at least 2 points per axis, {name} has {arr.size}")
    return arr


def loss_plane(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    d1: Direction,
    d2: Direction,
    alphas: Sequence[float],
    betas: Sequence[float] | None = None,
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
) -> np.ndarray:
    """Loss at ``weights + a * d1 + b * d2`` for every ``b`` in ``betas`` (rows), ``a`` in ``alphas``.

    The whole of ``(x, y)`` is one batch; ``loss_fn`` defaults to the cross-entropy. The model's
    own parameters are not changed. Returns an array of shape ``(len(betas), len(alphas))``.
    """
    _check_model(model)
    check_tensor(x, "x")
    if not isinstance(y, torch.Tensor) or y.shape[0] != x.shape[0]:
        raise ValueError("y must be a tensor with one target per row of x")
    _check_direction(d1, model, "d1")
    _check_direction(d2, model, "d2")
    alphas = _check_coords(alphas, "alphas")
    betas = alphas if betas is None else _check_coords(betas, "betas")
    loss_fn = nn.functional.cross_entropy if loss_fn is None else loss_fn
    base = {n: p.detach() for n, p in model.named_parameters()}
    buffers = dict(model.named_buffers())
    was_training = model.training
    model.eval()
    losses = np.empty((len(betas), len(alphas)))
    with torch.no_grad():
        for i, b in enumerate(betas):
            for j, a in enumerate(alphas):
                params = {n: w + float(a) * d1[n] + float(b) * d2[n] for n, w in base.items()}
                losses[i, j] = loss_fn(functional_call(model, (params, buffers), (x,)), y).item()
    model.train(was_training)
    return losses


def loss_line(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    direction: Direction,
    alphas: Sequence[float],
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
) -> np.ndarray:
    """Loss at ``weights + a * direction`` for every ``a`` in ``alphas`` (a 1-D slice)."""
    _check_model(model)
    zeros = {n: torch.zeros_like(p) for n, p in model.named_parameters()}
    return loss_plane(model, x, y, direction, zeros, alphas, betas=[0.0, 0.0], loss_fn=loss_fn)[0]


def loss_rise(plane: np.ndarray, coords: Sequence[float], distance: float) -> float:
    """Mean loss at the four points ``distance`` from the centre along the axes, minus the centre's.

    A sharpness summary: how much the loss rises when the weights move ``distance`` (in units of
    the filter-normalised directions) away from the trained ones.
    """
    plane, coords = np.asarray(plane, dtype=float), _check_coords(coords, "coords")
    if plane.shape != (len(coords), len(coords)):
        raise ValueError(
            f"plane must be square with {len(coords)} points a side, got {plane.shape}"
        )
    centre, k = int(np.argmin(np.abs(coords))), int(np.argmin(np.abs(coords - distance)))
    m = int(np.argmin(np.abs(coords + distance)))
    if coords[centre] != 0.0 or not np.isclose(coords[k], distance):
        raise ValueError(f"coords must contain 0 and {distance}, got {coords.tolist()}")
    ring = [plane[centre, k], plane[centre, m], plane[k, centre], plane[m, centre]]
    return float(np.mean(ring) - plane[centre, centre])
