"""Measuring gradient flow: every measurement the lessons make, in one place.

Per-layer weight-gradient profiles (``gradient_profile``) and their factors
(``gradient_factors``), per-block gradient norms of a GPT (``block_gradient_norms``, or
``block_weight_grad_norms`` after a backward pass of one's own), the RMS of a GPT's residual stream
block by block (``stream_rms``) and the gradient reaching it (``stream_gradient_norms``), the Jacobians of residual branches (``branch_jacobians``), the scale
of what enters each layer norm (``norm_input_scales``) and how alike the tokens' vectors become
(``token_similarity``). ``record_inputs`` catches what enters chosen layers on a forward pass, and
``forward_hooks`` runs any hook on them.
"""

from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack, contextmanager
from typing import TYPE_CHECKING

import torch
from torch import nn

from gradflow._checks import check_tensor

if TYPE_CHECKING:  # for the annotations only: measuring MLPs never imports the GPT model
    import gradflow.gpt

STATISTICS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "mean_abs": lambda g: g.abs().mean(),  # the book's measure: mean |dL/dW| over the matrix
    # Frobenius norm ||dL/dW||, summed in float64: in float32, entries below ~1e-19 square to zero
    # and the norm of a tiny but nonzero gradient would read exactly 0
    "norm": lambda g: g.double().norm(),
}


@contextmanager
def forward_hooks(
    modules: Iterable[nn.Module], hook: Callable, pre: bool = False
) -> Iterator[None]:
    """Within the block, ``hook`` runs on every call of ``modules``: after it, or before (``pre``)."""
    with ExitStack() as stack:  # removes every hook when the block ends, however it ends
        for m in modules:
            register = m.register_forward_pre_hook if pre else m.register_forward_hook
            stack.enter_context(register(hook))
        yield


@contextmanager
def record_inputs(modules: Iterable[nn.Module]) -> Iterator[list[torch.Tensor]]:
    """Within the block, append to the yielded list the (detached) input of every call of ``modules``."""
    inputs: list[torch.Tensor] = []
    with forward_hooks(modules, lambda _m, args: inputs.append(args[0].detach()), pre=True):
        yield inputs


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


def gradient_factors(
    model: nn.Module,
    x: torch.Tensor,
    target: torch.Tensor,
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
) -> dict[str, float | list[float]]:
    """For one example, the three factors of every Linear layer's mean absolute weight gradient.

    With one example ``dL/dW_k = delta_k h_{k-1}^T`` (``delta_k``: the gradient at the layer's output
    ``W_k h_{k-1} + b_k``), so ``mean|dL/dW_k| = mean|delta_k| * mean|h_{k-1}|``. We split
    ``mean|delta_k|`` further into the output error ``"error"`` = ``mean|dL/dy|`` at the network's
    output and the backward path ``"path"`` = ``mean|delta_k| / mean|dL/dy|``; ``"input"`` is
    ``mean|h_{k-1}|``. Layers are listed input first.
    """
    if x.shape[0] != 1:
        raise ValueError(f"x must hold exactly one example, got a batch of {x.shape[0]}")
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    outputs, inputs = [], []

    def keep(_m, args, out):
        out.retain_grad()  # delta_k: the gradient at the layer's pre-activation
        inputs.append(args[0].detach())
        outputs.append(out)

    model.zero_grad(set_to_none=True)
    with forward_hooks(linears, keep):
        y = model(x)
    y.retain_grad()
    if loss_fn is None:
        loss_fn = nn.functional.mse_loss
    loss_fn(y, target).backward()
    error = y.grad.abs().mean().item()
    return {
        "error": error,
        "path": [a.grad.abs().mean().item() / error for a in outputs],
        "input": [h.abs().mean().item() for h in inputs],
    }


def branch_jacobians(model: nn.Module, x: torch.Tensor) -> list[torch.Tensor]:
    """For one example, the Jacobian of every layer's branch ``layer(h)`` at the input it receives.

    ``model`` must keep its layers in ``model.layers`` (as :class:`gradflow.mlp.ShortcutMLP` does).
    With a shortcut the layer's full Jacobian is the identity plus this branch Jacobian.
    """
    layers = model.layers
    with record_inputs(layers) as inputs, torch.no_grad():
        model(x)
    return [
        torch.autograd.functional.jacobian(lambda h, f=layer: f(h)[0], h_in)[:, 0, :]  # (out, in)
        for layer, h_in in zip(layers, inputs, strict=True)
    ]


PARTS = ("block", "ff_out")  # what block_gradient_norms measures in each block


def block_gradient_norms(
    model: "gradflow.gpt.GPTModel", tokens: torch.Tensor, part: str = "block"
) -> list[float]:
    """One next-token backward pass; then, per block, the norm of its weight gradient (in float64).

    ``part="block"`` takes the Frobenius norm over all the block's weight matrices together;
    ``part="ff_out"`` only that of the feed-forward network's second matrix, Xiong et al.'s measure.
    """
    model.zero_grad(set_to_none=True)
    logits = model(tokens[:, :-1])  # (B, T, vocab_size): a prediction of the next token everywhere
    targets = tokens[:, 1:]  # (B, T)
    loss = nn.functional.cross_entropy(logits.flatten(0, 1), targets.flatten())
    loss.backward()
    return block_weight_grad_norms(model, part)


def block_weight_grad_norms(model: "gradflow.gpt.GPTModel", part: str = "block") -> list[float]:
    """Per block, the norm (in float64) of the weight gradients that the last backward pass left."""
    if part not in PARTS:
        raise ValueError(f"unknown part {part!r}; choose one of {list(PARTS)}")
    norms = []
    for block in model.blocks:
        if part == "ff_out":
            grads = [block.ff.c_proj.weight.grad]
        else:  # the matrices, not the layer norms' scales
            grads = [p.grad for _, p in weight_matrices(block)]
        if any(g is None for g in grads):
            raise ValueError("the model holds no gradients: run a backward pass first")
        norms.append(torch.cat([g.double().flatten() for g in grads]).norm().item())
    return norms


def stream_gradient_norms(model: "gradflow.gpt.GPTModel", tokens: torch.Tensor) -> list[float]:
    """One next-token backward pass; per block, the norm (in float64) of the loss's gradient with
    respect to the stream after that block. The weights' gradients are left in ``.grad``."""
    model.zero_grad(set_to_none=True)
    outputs: list[torch.Tensor] = []
    with forward_hooks(model.blocks, lambda _m, _a, out: outputs.append(out)):
        logits = model(tokens[:, :-1])  # (B, T, vocab_size)
    for out in outputs:
        out.retain_grad()  # (B, T, C): keep the gradient of this intermediate tensor
    loss = nn.functional.cross_entropy(logits.flatten(0, 1), tokens[:, 1:].flatten())
    loss.backward()
    return [out.grad.double().norm().item() for out in outputs]


@torch.no_grad()
def stream_rms(model: "gradflow.gpt.GPTModel", tokens: torch.Tensor) -> list[float]:
    """Root mean square of the residual stream: of the embeddings, then after every block."""
    with record_inputs([*model.blocks, model.final_norm]) as stream:  # what enters each, (B, T, C)
        model(tokens)
    return [x.square().mean().sqrt().item() for x in stream]


@torch.no_grad()
def token_similarity(
    model: "gradflow.gpt.GPTModel", tokens: torch.Tensor, centred: bool = False
) -> float:
    """Mean cosine similarity between different positions' vectors after the last block.

    With ``centred``, the mean vector over every token of the batch is subtracted first, so that a
    direction all tokens share does not count as the positions being alike.
    """
    with record_inputs([model.final_norm]) as stream:  # the stream after the last block
        model(tokens)
    x = stream[0]  # (B, T, C)
    if centred:
        x = x - x.mean(dim=(0, 1))  # (B, T, C) minus the batch's mean vector (C,)
    unit = nn.functional.normalize(x, dim=-1)
    cos = unit @ unit.transpose(1, 2)  # (B, T, T): cosine between every pair of positions
    off_diagonal = ~torch.eye(x.shape[1], dtype=torch.bool)
    return cos[:, off_diagonal].mean().item()


@torch.no_grad()
def norm_input_scales(model: "gradflow.gpt.GPTModel", tokens: torch.Tensor) -> list[float]:
    """Per-token standard deviation of what enters each block's two layer norms, in order."""
    norms = [norm for block in model.blocks for norm in (block.norm1, block.norm2)]
    with record_inputs(norms) as inputs:
        model(tokens)
    return [h.std(dim=-1, unbiased=False).mean().item() for h in inputs]  # mean over (B, T)


@torch.no_grad()
def logit_spread(model: "gradflow.gpt.GPTModel", tokens: torch.Tensor, first: int = 0) -> float:
    """How much the output depends on the input: the standard deviation of each logit across the
    batch, averaged over the positions from ``first`` on and over the vocabulary (0 for a model that
    gives every input the same output)."""
    logits = model(tokens)[:, first:]  # (B, T - first, vocab_size)
    return logits.std(dim=0, unbiased=False).mean().item()
