"""Argument checks shared by the package: each raises ValueError/TypeError naming the problem."""

import math
from collections.abc import Sequence

import torch


def check_int(value, name: str) -> int:
    """Return ``value`` if it is an int (and not a bool); raise a clear error otherwise."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    return value


def check_positive_number(value, name: str) -> float:
    """Return ``value`` if it is a finite number > 0; raise a clear error otherwise."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a number, got {type(value).__name__}")
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a positive number, got {value!r}")
    return value


def check_positive_int(value, name: str, minimum: int = 1) -> int:
    """Return ``value`` if it is an int >= ``minimum``; raise a clear error otherwise."""
    if check_int(value, name) < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return value


def check_layer_sizes(layer_sizes) -> list[int]:
    """Return ``layer_sizes`` as a list of at least two positive ints; raise otherwise."""
    if isinstance(layer_sizes, (str, bytes)) or not isinstance(layer_sizes, Sequence):
        raise TypeError(
            f"layer_sizes must be a list of positive ints, got {type(layer_sizes).__name__}"
        )
    if len(layer_sizes) < 2:
        raise ValueError(
            f"layer_sizes needs at least two entries (input and output width), got {len(layer_sizes)}"
        )
    for i, size in enumerate(layer_sizes):
        if isinstance(size, bool) or not isinstance(size, int):
            raise TypeError(
                f"layer_sizes must be a list of positive ints, entry {i} is {size!r} "
                f"({type(size).__name__})"
            )
        if size < 1:
            raise ValueError(f"layer_sizes must be a list of positive ints, entry {i} is {size}")
    return list(layer_sizes)


def check_tensor(x, name: str, ndim: int | None = None, width: int | None = None) -> torch.Tensor:
    """Return ``x`` if it is a floating tensor of the given rank and last-axis width."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if not x.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor, got dtype {x.dtype}")
    if ndim is not None and x.dim() != ndim:
        raise ValueError(f"{name} must have {ndim} dimensions, got shape {tuple(x.shape)}")
    if x.dim() == 0 or x.shape[0] == 0:
        raise ValueError(f"{name} is empty (shape {tuple(x.shape)}): it needs at least one example")
    if width is not None and x.shape[-1] != width:
        raise ValueError(
            f"{name} has width {x.shape[-1]} but the first layer expects {width} features"
        )
    return x
