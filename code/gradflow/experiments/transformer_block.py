"""Experiments of the lesson on the transformer block: gradient profiles of stacks of blocks.

``gradient_profile_at_init`` builds freshly initialised :class:`gradflow.gpt.GPTModel` s and averages
their per-block gradient norms (:func:`gradflow.gradients.block_gradient_norms`) over seeds.
``gradient_parts_at_init`` splits the second feed-forward matrix's gradient into the gradient
reaching the stream and the activations entering the matrix. ``gpt2_branch_scale`` predicts how large a sub-layer's output is under GPT-2's initialisation, and
``epsilon_sweep`` measures the first block's gradient over widths, layer-norm epsilons and depths,
with and without the shortcuts.
"""

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
import torch
from torch import nn

from gradflow._checks import check_positive_int, check_positive_number
from gradflow.gpt import GPT2_STD, GPTConfig, GPTModel, LayerNorm
from gradflow.gradients import (
    block_gradient_norms,
    block_weight_grad_norms,
    record_inputs,
    stream_gradient_norms,
    weight_matrices,
)
from gradflow.init import generator, seeded

# the tokens of seed s are drawn with seed TOKEN_SEED_OFFSET + s, apart from the weights'
TOKEN_SEED_OFFSET = 1000


def random_tokens(cfg: GPTConfig, batch_size: int, seq_len: int, seed: int) -> torch.Tensor:
    """A (batch_size, seq_len + 1) tensor of uniformly random token ids from a seeded generator."""
    check_positive_int(batch_size, "batch_size")
    check_positive_int(seq_len, "seq_len")
    if seq_len > cfg.context_length:
        raise ValueError(
            f"seq_len {seq_len} is longer than the context length {cfg.context_length}"
        )
    gen = generator(seed)
    return torch.randint(cfg.vocab_size, (batch_size, seq_len + 1), generator=gen)


def gradient_profile_at_init(
    cfg: GPTConfig,
    norm: str = "pre",
    use_shortcut: bool = True,
    part: str = "block",
    init: str = "torch",
    seeds: Sequence[int] = (0, 1, 2),
    batch_size: int = 8,
    seq_len: int = 32,
) -> np.ndarray:
    """Per-block gradient norms at initialisation, averaged over freshly initialised models."""
    if len(seeds) == 0:
        raise ValueError("seeds is empty: give at least one seed")
    runs = []
    for seed in seeds:
        tokens = random_tokens(cfg, batch_size, seq_len, seed=TOKEN_SEED_OFFSET + seed)
        with seeded(seed):  # the weights and the dropout masks
            model = GPTModel(cfg, norm=norm, use_shortcut=use_shortcut, init=init)
            runs.append(block_gradient_norms(model, tokens, part=part))
    return np.mean(runs, axis=0)


def gradient_parts_at_init(
    cfg: GPTConfig,
    norm: str = "pre",
    init: str = "torch",
    seeds: Sequence[int] = (0, 1, 2),
    batch_size: int = 8,
    seq_len: int = 32,
) -> dict[str, np.ndarray]:
    """Per block, averaged over seeds: the gradient norm of the second feed-forward matrix
    (``"ff_out"``), that of the stream after the block (``"stream"``) and the norm of the activations
    entering that matrix (``"activations"``), whose product the matrix's gradient is made of."""
    if len(seeds) == 0:
        raise ValueError("seeds is empty: give at least one seed")
    runs = {"ff_out": [], "stream": [], "activations": []}
    for seed in seeds:
        tokens = random_tokens(cfg, batch_size, seq_len, seed=TOKEN_SEED_OFFSET + seed)
        with seeded(seed):
            model = GPTModel(cfg, norm=norm, init=init)
        with record_inputs([block.ff.c_proj for block in model.blocks]) as acts:
            runs["stream"].append(stream_gradient_norms(model, tokens))
        runs["ff_out"].append(block_weight_grad_norms(model, part="ff_out"))
        runs["activations"].append([a.double().norm().item() for a in acts])
    return {key: np.mean(values, axis=0) for key, values in runs.items()}


def gpt2_branch_scale(emb_dim: int, n_layers: int) -> float:
    """Standard deviation of a sub-layer's output under GPT-2's initialisation, for a normalised input.

    The first matrix (std 0.02, fan-in C) gives features of std 0.02 sqrt(C); the output projection
    (std 0.02 / sqrt(2L)) multiplies by 0.02 sqrt(C) / sqrt(2L) again: (0.02 sqrt(C))^2 / sqrt(2L).
    (In the feed-forward branch GELU halves the small hidden features and 4C of them are summed.)
    """
    return (GPT2_STD * math.sqrt(emb_dim)) ** 2 / math.sqrt(2 * n_layers)


def set_norm_eps(model: nn.Module, eps: float) -> nn.Module:
    """Give every layer norm of ``model`` the epsilon ``eps``; return the model."""
    check_positive_number(eps, "eps")
    for module in model.modules():
        if isinstance(module, LayerNorm):
            module.eps = eps
    return model


def first_block_gradient(model: GPTModel, tokens: torch.Tensor) -> tuple[float, float]:
    """One next-token backward pass: the norm of the first block's weight gradient (in float64),
    and the standard deviation of what enters the last block's second layer norm."""
    mats = [p for _, p in weight_matrices(model.blocks[0])]
    with record_inputs([model.blocks[-1].norm2]) as inputs:
        logits = model(tokens[:, :-1])  # (B, T, vocab_size)
    loss = nn.functional.cross_entropy(logits.flatten(0, 1), tokens[:, 1:].flatten())
    grads = torch.autograd.grad(loss, mats)  # only the first block's: the others are not computed
    sigma = inputs[0].double().std(dim=-1, unbiased=False).mean().item()  # mean over (B, T)
    return torch.cat([g.double().flatten() for g in grads]).norm().item(), sigma


@dataclass(frozen=True)
class SweepPoint:
    """The first block's gradient norm in one stack, averaged over its initialisations."""

    emb_dim: int  # width C of the stream
    n_layers: int  # blocks L
    eps: float  # the layer norms' epsilon
    use_shortcut: bool  # whether the blocks keep their two shortcuts
    gradient: float  # norm of the first block's weight gradient, mean over the seeds
    sigma_last: float  # std of what enters the last layer norm of the last block, mean over seeds


def epsilon_sweep(
    cfg: GPTConfig,
    widths: Sequence[int],
    depths: Sequence[int],
    epsilons: Sequence[float] = (1e-5, 1e-12),
    seeds: Sequence[int] = (0, 1, 2),
    batch_size: int = 8,
    seq_len: int = 32,
) -> list[SweepPoint]:
    """First-block gradients under GPT-2's initialisation, for every width, depth, epsilon and
    with and without shortcuts; each model is drawn once per seed and measured in all four ways."""
    if len(seeds) == 0:
        raise ValueError("seeds is empty: give at least one seed")
    points = []
    for emb_dim in widths:
        for n_layers in depths:
            deep = replace(cfg, emb_dim=emb_dim, n_layers=n_layers)
            runs = {}
            for seed in seeds:
                tokens = random_tokens(deep, batch_size, seq_len, seed=TOKEN_SEED_OFFSET + seed)
                with seeded(seed):
                    model = GPTModel(deep, init="gpt2")
                for eps in epsilons:
                    set_norm_eps(model, eps)
                    for use_shortcut in (True, False):
                        for block in model.blocks:
                            block.use_shortcut = use_shortcut
                        runs.setdefault((eps, use_shortcut), []).append(
                            first_block_gradient(model, tokens)
                        )
            for (eps, use_shortcut), values in runs.items():
                gradient, sigma = np.mean(values, axis=0)
                points.append(SweepPoint(emb_dim, n_layers, eps, use_shortcut, gradient, sigma))
    return points
