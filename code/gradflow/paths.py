"""Residual networks seen from inside: paths, lesions, shattered gradients and the signal at init.

Measurements of the chapter on why residual networks work. A stack of ``n`` residual blocks unrolls
into ``2**n`` paths (Veit et al., 2016, *Residual Networks Behave Like Ensembles of Relatively Shallow
Networks*): ``path_counts`` counts them by length, ``routed_forward`` lets the gradient follow one
path only, and ``lesion`` deletes blocks from a trained network. ``input_gradients`` gives the
gradient with respect to the input, whose change between nearby inputs shows shattering (Balduzzi
et al., 2017, *The Shattered Gradients Problem*); ``jacobian_singular_values`` and
``signal_rms`` look at the whole network's Jacobian and at the size of the signal, block by block.

Every function works on the book's MLPs, which keep their layers in ``model.layers``: hidden layers of
one width, then an output layer.
"""

import math
from collections.abc import Iterable, Sequence
from contextlib import ExitStack, contextmanager

import numpy as np
import torch
from torch import nn

from gradflow._checks import check_int, check_positive_int, check_tensor
from gradflow.gradients import forward_hooks, record_inputs
from gradflow.init import generator


def _layers(model: nn.Module) -> nn.ModuleList:
    layers = getattr(model, "layers", None)
    if not isinstance(layers, nn.ModuleList):
        raise TypeError("model must keep its layers in an nn.ModuleList named 'layers'")
    return layers


def path_counts(n_blocks: int) -> list[int]:
    """How many of the 2**n paths through ``n_blocks`` residual blocks pass through k branches.

    Each block doubles the paths: one copy skips it, the other goes through its branch and is one
    longer. Entry ``k`` of the result is the number of paths through exactly ``k`` branches.
    """
    counts = [1]  # zero blocks: one path, of length 0
    for _ in range(check_positive_int(n_blocks, "n_blocks", minimum=0)):
        skip, through = counts + [0], [0] + counts  # the same paths, and those one block longer
        counts = [a + b for a, b in zip(skip, through, strict=True)]
    return counts


def peak_length(n_blocks: int, factor: float) -> int:
    """The path length that carries the most gradient when every branch on a path multiplies it by
    the same ``factor``: the ``k`` at which ``comb(n_blocks, k) * factor**k`` is largest."""
    return math.floor((n_blocks + 1) * factor / (1 + factor))


def routed_forward(model: nn.Module, x: torch.Tensor, route: Sequence[bool]) -> torch.Tensor:
    """The forward pass of a residual MLP whose backward pass follows a single path.

    The values are those of the ordinary forward pass. Only the gradient is routed: through the
    branch of block ``i`` when ``route[i]`` is true, through its shortcut otherwise (Veit et al.).
    ``model`` is a ``ScaledShortcutMLP`` with shortcuts on its hidden layers.
    """
    layers = _layers(model)
    blocks = [i for i in range(len(layers)) if model.has_shortcut(i)]
    take_branch = dict(zip(blocks, route, strict=True))  # one entry of route per residual block
    h = x
    for i, layer in enumerate(layers):
        if i not in take_branch:
            h = layer(h)  # the output layer
            continue
        branch = model.branch_scale * layer(h)
        if take_branch[i]:
            h = h.detach() + branch  # the gradient goes through the branch only
        else:
            h = h + branch.detach()  # the gradient goes through the shortcut only
    return h


def path_gradients(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    samples: int = 16,
    seed: int = 0,
) -> np.ndarray:
    """Mean norm of the loss's gradient at the input that reaches it along one path of each length.

    For every length ``k`` from 0 to the number of blocks, ``samples`` paths are drawn at random (``k``
    branches out of ``n``) and the gradient of the cross-entropy is sent back along each. Returns an
    array of ``n + 1`` mean norms (Veit et al., 2016, Fig. 6b).
    """
    check_positive_int(samples, "samples")
    check_int(seed, "seed")
    n = sum(model.has_shortcut(i) for i in range(len(_layers(model))))
    if n == 0:
        raise ValueError("model has no residual blocks: build it with use_shortcut=True")
    gen = generator(seed)
    means = np.zeros(n + 1)
    for k in range(n + 1):
        norms = []
        for _ in range(samples):
            chosen = torch.randperm(n, generator=gen)[:k]
            route = [False] * n
            for i in chosen.tolist():
                route[i] = True
            x_in = x.detach().clone().requires_grad_(True)
            loss = nn.functional.cross_entropy(routed_forward(model, x_in, route), y)
            (grad,) = torch.autograd.grad(loss, x_in)
            norms.append(grad.double().norm().item())
        means[k] = np.mean(norms)
    return means


def check_deletable(layers: Sequence[nn.Module], blocks: list[int]) -> list[int]:
    """Return ``blocks`` if each is a hidden layer that keeps the width (so deleting it fits)."""
    for i in blocks:
        if not 0 <= i < len(layers) - 1:
            raise ValueError(f"block {i} is not a hidden layer; choose from 0 to {len(layers) - 2}")
        if layers[i][0].in_features != layers[i][0].out_features:
            raise ValueError(f"layer {i} changes the width: deleting it would break the shapes")
    return blocks


@contextmanager
def lesion(model: nn.Module, blocks: Iterable[int]):
    """Within the ``with`` block, delete hidden layers ``blocks`` from ``model`` (Veit et al., Fig. 3).

    A deleted residual block keeps its shortcut and loses its branch: its branch outputs zeros. A
    deleted plain layer is replaced by the identity, so the layers around it still fit together.
    """
    layers = _layers(model)
    blocks = check_deletable(layers, sorted(set(blocks)))

    def zero_branch(_module, _args, out):
        return torch.zeros_like(out)

    def identity(_module, args, _out):
        return args[0]

    with ExitStack() as hooks:  # removed when the block ends, however it ends
        for i in blocks:
            hook = zero_branch if model.has_shortcut(i) else identity
            hooks.enter_context(layers[i].register_forward_hook(hook))
        yield model


def input_gradients(model: nn.Module, x: torch.Tensor, output: int = 0) -> torch.Tensor:
    """The gradient of output unit ``output`` with respect to the input, one row per example."""
    x = x.detach().clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(model(x)[:, output].sum(), x)  # examples do not interact
    return grad  # (N, C_in)


def hidden_stack(model: nn.Module):
    """The map from the input to the last hidden layer's output (everything but the output layer)."""
    layers = _layers(model)
    last = layers[-1]

    def run(x: torch.Tensor) -> torch.Tensor:
        seen = []
        with forward_hooks([last], lambda _m, args: seen.append(args[0]), pre=True):
            model(x)
        return seen[0]

    return run


def jacobian_singular_values(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Singular values of the Jacobian of the last hidden layer with respect to the input, at ``x``."""
    check_tensor(x, "x", ndim=2)
    if x.shape[0] != 1:
        raise ValueError(f"x must hold exactly one example, got a batch of {x.shape[0]}")
    run = hidden_stack(model)
    jac = torch.autograd.functional.jacobian(lambda h: run(h)[0], x)[:, 0, :]  # (C_out, C_in)
    return torch.linalg.svdvals(jac.double())


@torch.no_grad()
def signal_rms(model: nn.Module, x: torch.Tensor) -> list[float]:
    """The root mean square of the signal entering each layer: the input, then every hidden output."""
    with record_inputs(_layers(model)) as seen:
        model(x)
    return [h.double().pow(2).mean().sqrt().item() for h in seen]
