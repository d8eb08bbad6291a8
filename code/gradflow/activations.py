"""Activation functions and their derivatives: by autograd and in closed form.

The derivative of the activation is the factor each layer contributes to the backward product of
Jacobians, so its size decides whether gradients shrink layer after layer. The derivatives the
lesson plots come from autograd (``torch.autograd.grad``), applied to the very modules the networks
use (``gradflow.mlp.make_activation``); the closed forms here exist to check them. The figure is
``gradflow.plots.vanishing_gradients.plot_activations``.
"""

import math

import torch

from gradflow._checks import check_positive_int
from gradflow.mlp import check_activation, make_activation

ACTIVATION_NAMES = ("sigmoid", "tanh", "relu", "gelu")  # the order every figure and table uses
GELU_C = math.sqrt(2.0 / math.pi)  # constant of GELU's tanh approximation (Hendrycks & Gimpel)
GELU_A = 0.044715  # cubic coefficient of the same approximation


def _check_points(z) -> torch.Tensor:
    """Return ``z`` if it is a non-empty floating tensor of points; raise otherwise."""
    if not isinstance(z, torch.Tensor):
        raise TypeError(f"z must be a torch.Tensor, got {type(z).__name__}")
    if not z.is_floating_point():
        raise TypeError(f"z must be a floating-point tensor, got dtype {z.dtype}")
    if z.numel() == 0:
        raise ValueError("z is empty: give at least one point")
    return z


def value_and_derivative(name: str, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The activation phi(z) and its derivative phi'(z), elementwise, computed by autograd."""
    z = _check_points(z).detach().clone().requires_grad_(True)
    y = make_activation(name)(z)
    # phi acts elementwise, so the gradient of sum(phi(z)) is the vector of derivatives phi'(z_i).
    (dy,) = torch.autograd.grad(y.sum(), z)
    return y.detach(), dy


def closed_form_derivative(name: str, z: torch.Tensor) -> torch.Tensor:
    """phi'(z) written out by hand, for checking autograd (ReLU'(0) is taken to be 0)."""
    check_activation(name)
    z = _check_points(z)
    if name == "sigmoid":
        s = torch.sigmoid(z)
        return s * (1 - s)
    if name == "tanh":
        return 1 - torch.tanh(z) ** 2
    if name == "relu":
        return (z > 0).to(z.dtype)
    # GELU, tanh approximation: 0.5 z (1 + tanh(u)) with u = c (z + a z^3)
    t = torch.tanh(GELU_C * (z + GELU_A * z**3))
    return 0.5 * (1 + t) + 0.5 * z * (1 - t**2) * GELU_C * (1 + 3 * GELU_A * z**2)


def max_derivative(name: str, lo: float = -8.0, hi: float = 8.0, points: int = 160_001) -> float:
    """The largest phi'(z) on an even grid over [lo, hi], by autograd (the bound in the lesson)."""
    check_positive_int(points, "points", minimum=2)
    if not lo < hi:
        raise ValueError(f"need lo < hi, got lo={lo} and hi={hi}")
    z = torch.linspace(lo, hi, points, dtype=torch.float64)
    return value_and_derivative(name, z)[1].max().item()
