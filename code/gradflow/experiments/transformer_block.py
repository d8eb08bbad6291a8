"""Experiments of the lesson on the transformer block: gradient profiles of stacks of blocks.

``gradient_profile_at_init`` builds freshly initialised :class:`gradflow.gpt.GPTModel` s and averages
their per-block gradient norms (:func:`gradflow.gradients.block_gradient_norms`) over seeds.
"""

from collections.abc import Sequence

import numpy as np
import torch

from gradflow._checks import check_positive_int
from gradflow.gpt import BLOCKS, GPTConfig, GPTModel
from gradflow.gradients import PARTS, block_gradient_norms
from gradflow.init import SCHEMES, generator, seeded

TOKEN_SEED_OFFSET = (
    1000  # the tokens of seed s are drawn with seed TOKEN_SEED_OFFSET + s, apart from the weights'
)


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
    if norm not in BLOCKS:
        raise ValueError(f"unknown norm placement {norm!r}; choose one of {sorted(BLOCKS)}")
    if len(seeds) == 0:
        raise ValueError("seeds is empty: give at least one seed")
    if part not in PARTS:
        raise ValueError(f"unknown part {part!r}; choose one of {list(PARTS)}")
    if init not in SCHEMES:
        raise ValueError(f"unknown init {init!r}; choose one of {list(SCHEMES)}")
    runs = []
    for seed in seeds:
        tokens = random_tokens(cfg, batch_size, seq_len, seed=TOKEN_SEED_OFFSET + seed)
        with seeded(seed):  # the weights and the dropout masks
            model = GPTModel(cfg, norm=norm, use_shortcut=use_shortcut, init=init)
            runs.append(block_gradient_norms(model, tokens, part=part))
    return np.mean(runs, axis=0)
