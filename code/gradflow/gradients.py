"""Measuring gradient flow: one backward pass, then a summary of each layer's weight gradient."""

from collections.abc import Callable

import torch
from torch import nn

from gradflow._checks import check_tensor

STATISTICS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "mean_abs": lambda g: g.abs().mean(),  # the book's measure: mean |dL/dW| over the matrix
    # Frobenius norm ||dL/dW||, summed in float64: in float32, entries below ~1e-19 square to zero
    # and the norm of a tiny but nonzero gradient would read exactly 0
    "norm": lambda g: g.double().norm(),
}


def weight_matrices(model: nn.Module) -> list[tuple[str, nn.Parameter]]:
    """The model's weight matrices (2-D parameters named '...weight'), in registration order."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    return [(n, p) for n, p in model.named_parameters() if n.endswith("weight") and p.dim() == 2]


def backward_once(
    model: nn.Module,
    x: torch.Tensor,
    target: torch.Tensor,
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
) -> float:
    """Zero the gradients, run one forward and backward pass, and return the loss."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    check_tensor(x, "x")
    if not isinstance(target, torch.Tensor):
        raise TypeError(f"target must be a torch.Tensor, got {type(target).__name__}")
    if target.dim() == 0 or target.shape[0] != x.shape[0]:
        raise ValueError(
            f"x and target must hold the same number of examples, got x of shape "
            f"{tuple(x.shape)} and target of shape {tuple(target.shape)}"
        )
    model.zero_grad(set_to_none=True)
    output = model(x)
    if loss_fn is None:  # the mean squared error, which would silently broadcast mismatched shapes
        if output.shape != target.shape:
            raise ValueError(
                f"target has shape {tuple(target.shape)} but the model's output has shape "
                f"{tuple(output.shape)}; the mean squared error needs them equal"
            )
        loss_fn = nn.functional.mse_loss
    loss = loss_fn(output, target)
    loss.backward()
    return loss.item()


def gradient_profile(
    model: nn.Module,
    x: torch.Tensor,
    target: torch.Tensor,
    statistic: str = "mean_abs",
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
) -> list[float]:
    """One backward pass; then, for every weight matrix in order, a statistic of its gradient.

    ``statistic`` is ``"mean_abs"`` (mean absolute gradient, the measure of Raschka's chapter 4) or
    ``"norm"`` (Frobenius norm). ``loss_fn`` defaults to the mean squared error.
    """
    if statistic not in STATISTICS:
        raise ValueError(f"unknown statistic {statistic!r}; choose one of {sorted(STATISTICS)}")
    backward_once(model, x, target, loss_fn)
    stat = STATISTICS[statistic]
    return [stat(p.grad).item() for _, p in weight_matrices(model)]


def branch_jacobians(model: nn.Module, x: torch.Tensor) -> list[torch.Tensor]:
    """For one example, the Jacobian of every layer's branch ``layer(h)`` at the input it receives.

    ``model`` must keep its layers in ``model.layers`` (as :class:`gradflow.mlp.ShortcutMLP` does).
    With a shortcut the layer's full Jacobian is the identity plus this branch Jacobian.
    """
    layers = getattr(model, "layers", None)
    if not isinstance(layers, nn.ModuleList):
        raise TypeError("model must keep its layers in an nn.ModuleList named 'layers'")
    check_tensor(x, "x", ndim=2)
    if x.shape[0] != 1:
        raise ValueError(f"x must hold exactly one example, got a batch of {x.shape[0]}")
    inputs: list[torch.Tensor] = []
    hooks = [
        layer.register_forward_pre_hook(lambda _m, args: inputs.append(args[0].detach()))
        for layer in layers
    ]
    try:
        with torch.no_grad():
            model(x)
    finally:
        for hook in hooks:
            hook.remove()
    return [
        torch.autograd.functional.jacobian(lambda h, f=layer: f(h)[0], h_in)[:, 0, :]  # (out, in)
        for layer, h_in in zip(layers, inputs, strict=True)
    ]
