"""Experiments of the chapter on training transformers: small GPTs learning to sort digits, with and
without their shortcuts, pre-LN and post-LN, with and without GPT-2's scaled output projections.

Every model is a :class:`gradflow.gpt.GPTModel` of the book's own blocks, initialised with GPT-2's
scheme (:func:`gradflow.init.init_weights`), without dropout, and trained by
:func:`gradflow.train.train_sequence_model` on ``TASK``.
"""

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from gradflow._checks import check_positive_int, check_positive_number
from gradflow.gpt import BLOCKS, GPTConfig, GPTModel, LayerNorm, out_projections
from gradflow.gradients import logit_spread, record_inputs, stream_rms, token_similarity
from gradflow.init import seeded
from gradflow.tasks import SortTask
from gradflow.train import History, train_sequence_model

TASK = SortTask(length=6, n_digits=3)  # minGPT's demonstration: six digits from {0, 1, 2}
SPLIT_SEED = 0  # which problems are held out for the test


@dataclass(frozen=True)
class Budget:
    """What one training run may cost: scaled down from the issue's width 64 to fit one CPU core."""

    emb_dim: int = 32  # width of the residual stream
    n_heads: int = 2  # attention heads of 16 features each
    steps: int = 100  # optimiser steps per run
    batch_size: int = 32  # problems per minibatch
    lr: float = 1e-3  # AdamW's learning rate after warm-up
    record_every: int = 10  # steps between two records of loss, accuracy and gradients

    def __post_init__(self):
        for name in ("emb_dim", "n_heads", "steps", "batch_size", "record_every"):
            check_positive_int(getattr(self, name), name)
        check_positive_number(self.lr, "lr")


BUDGET = Budget()


def problems() -> tuple[torch.Tensor, torch.Tensor]:
    """The training and test problems of every run, split by ``SPLIT_SEED``."""
    return TASK.split(SPLIT_SEED)


def config(n_layers: int, budget: Budget = BUDGET) -> GPTConfig:
    """A GPT just large enough for the task: its digits, its context, ``n_layers`` blocks."""
    return GPTConfig(
        vocab_size=TASK.vocab_size,
        context_length=TASK.context_length,
        emb_dim=budget.emb_dim,
        n_heads=budget.n_heads,
        n_layers=n_layers,
        drop_rate=0.0,
    )


def unscale_out_projections(model: GPTModel) -> GPTModel:
    """Undo GPT-2's 1/sqrt(2L) on each block's two output projections: all weights then share one
    standard deviation, 0.02."""
    factor = math.sqrt(2 * len(model.blocks))
    with torch.no_grad():
        for proj in out_projections(model):
            proj.weight.mul_(factor)
    return model


def build(
    n_layers: int,
    use_shortcut: bool = True,
    norm: str = "pre",
    scaled: bool = True,
    seed: int = 0,
    budget: Budget = BUDGET,
    eps: float = 1e-5,
) -> GPTModel:
    """A freshly initialised GPT with GPT-2's initialisation; ``scaled=False`` drops its 1/sqrt(2L),
    ``eps`` is every layer norm's epsilon."""
    if norm not in BLOCKS:
        raise ValueError(f"unknown norm placement {norm!r}; choose one of {sorted(BLOCKS)}")
    check_positive_number(eps, "eps")
    with seeded(seed):
        model = GPTModel(
            config(n_layers, budget), norm=norm, use_shortcut=use_shortcut, init="gpt2"
        )
    for module in model.modules():
        if isinstance(module, LayerNorm):
            module.eps = eps
    return model if scaled else unscale_out_projections(model)


@dataclass
class Trained:
    """A trained model and what its training recorded."""

    model: GPTModel
    history: History


def train(
    n_layers: int,
    use_shortcut: bool = True,
    norm: str = "pre",
    seed: int = 0,
    warmup: int = 0,
    scaled: bool = True,
    lr: float | None = None,
    steps: int | None = None,
    budget: Budget = BUDGET,
    eps: float = 1e-5,
    test: bool = True,
) -> Trained:
    """Build a GPT with ``seed`` and train it on the task; the minibatches follow the same seed.
    ``test=False`` skips the test accuracy after the last step (its history then holds none)."""
    model = build(n_layers, use_shortcut, norm, scaled, seed, budget, eps)
    train_problems, test_problems = problems()
    history = train_sequence_model(
        model,
        TASK,
        train_problems,
        test_problems if test else None,
        steps=budget.steps if steps is None else steps,
        lr=budget.lr if lr is None else lr,
        warmup=warmup,
        batch_size=budget.batch_size,
        seed=seed,
        record_every=budget.record_every,
    )
    return Trained(model, history)


def _check_seeds(seeds: Sequence[int]) -> None:
    if len(seeds) == 0:
        raise ValueError("seeds is empty: give at least one seed")


def shortcut_grid(
    depths: Sequence[int] = (2, 8), seeds: Sequence[int] = (0, 1, 2), budget: Budget = BUDGET
) -> dict[tuple[int, bool], list[Trained]]:
    """Pre-LN GPTs of every depth, with and without shortcuts, one run per seed."""
    _check_seeds(seeds)
    return {
        (depth, use_shortcut): [train(depth, use_shortcut, seed=s, budget=budget) for s in seeds]
        for depth in depths
        for use_shortcut in (False, True)
    }


def warmup_study(
    n_layers: int = 4,
    lr: float = 3e-2,
    warmup: int = 50,
    seeds: Sequence[int] = (0,),
    steps: int | None = None,
    budget: Budget = BUDGET,
    scaled: bool = True,
) -> dict[tuple[str, int], list[Trained]]:
    """Post-LN and pre-LN stacks (with shortcuts) at a high learning rate, with and without warm-up;
    ``steps`` (the budget's unless given) per run; ``scaled=False`` drops GPT-2's 1/sqrt(2L). The
    comparison is of training losses, so no run measures a test accuracy."""
    _check_seeds(seeds)
    return {
        (norm, w): [
            train(n_layers, True, norm, s, w, scaled, lr=lr, steps=steps, budget=budget, test=False)
            for s in seeds
        ]
        for norm in ("post", "pre")
        for w in (0, warmup)
    }


def warmup_window(
    n_layers: int = 4,
    rates: Sequence[float] = (1e-2, 3e-2, 1e-1),
    warmup: int = 15,
    steps: int = 60,
    seeds: Sequence[int] = (0, 1, 2),
    budget: Budget = BUDGET,
) -> dict[tuple[str, int, float], list[Trained]]:
    """``warmup_study`` at every learning rate of ``rates``, without GPT-2's 1/sqrt(2L) scaling (as in
    Xiong et al.'s post-LN and pre-LN Transformers); keys (placement, warm-up steps, rate)."""
    if len(rates) == 0:
        raise ValueError("rates is empty: give at least one learning rate")
    window = {}
    for lr in rates:
        study = warmup_study(n_layers, lr, warmup, seeds, steps, budget, scaled=False)
        window.update({(norm, w, lr): runs for (norm, w), runs in study.items()})
    return window


def stream_growth(
    depths: Sequence[int] = (12, 48), seeds: Sequence[int] = (0, 1, 2), budget: Budget = BUDGET
) -> dict[tuple[int, bool], np.ndarray]:
    """RMS of the residual stream at initialisation (embeddings, then after each block), averaged
    over seeds, with (``True``) and without GPT-2's output-projection scaling."""
    _check_seeds(seeds)
    inputs, _ = TASK.examples(problems()[0][:256])
    return {
        (depth, scaled): np.mean(
            [stream_rms(build(depth, scaled=scaled, seed=s, budget=budget), inputs) for s in seeds],
            axis=0,
        )
        for depth in depths
        for scaled in (False, True)
    }


def growth_per_block(rms: Sequence[float]) -> float:
    """The stream's mean growth factor per block, from the embeddings to the last block."""
    return float((rms[-1] / rms[0]) ** (1 / (len(rms) - 1)))


def first_steps(
    n_layers: int = 8,
    steps: int = 40,
    seeds: Sequence[int] = (0, 1, 2),
    budget: Budget = BUDGET,
    scaled_runs: Sequence[Trained] | None = None,
) -> dict[bool, list[History]]:
    """The first ``steps`` of training a deep stack with (``True``) and without the scaling.

    ``scaled_runs``, longer runs of the same stacks with the scaling (one per seed, as trained by
    ``train``), are cut to their first ``steps`` instead of being trained again: the first steps of
    a run do not depend on how many follow.
    """
    _check_seeds(seeds)
    if scaled_runs is None:
        scaled = [
            train(n_layers, seed=s, steps=steps, budget=budget, test=False).history for s in seeds
        ]
    else:
        if len(scaled_runs) != len(seeds):
            raise ValueError(f"{len(scaled_runs)} scaled runs for {len(seeds)} seeds")
        scaled = [head(r.history, steps) for r in scaled_runs]
    unscaled = [
        train(n_layers, seed=s, scaled=False, steps=steps, budget=budget, test=False).history
        for s in seeds
    ]
    return {False: unscaled, True: scaled}


def head(history: History, steps: int) -> History:
    """What a run of ``steps`` steps would have recorded, cut from a longer run's ``history`` (no
    test accuracy, which is measured after the last step; no gradient at the last record)."""
    if steps not in history.steps:
        raise ValueError(f"no record at step {steps}; records are at {history.steps}")
    n = history.steps.index(steps) + 1
    return History(
        steps=history.steps[:n],
        train_loss=history.train_loss[:n],
        block_grad_norms=history.block_grad_norms[: n - 1],
    )


def final_loss(history: History, last: int = 3) -> float:
    """The training loss averaged over the ``last`` records: less noisy than the very last one."""
    return float(np.mean(history.train_loss[-last:]))


def similarity(model: GPTModel, n: int = 256) -> float:
    """Mean cosine similarity of the positions' vectors after the last block, on test problems."""
    inputs, _ = TASK.examples(problems()[1][:n])
    return token_similarity(model, inputs)


@dataclass
class Convergence:
    """The positions' vectors of an untrained stack, block by block."""

    similarity: list[float]  # mean cosine between different positions: embeddings, then each block
    vectors: torch.Tensor  # (L + 1, T, C): the first problem's vectors at the same depths


@torch.no_grad()
def convergence(n_layers: int, use_shortcut: bool, seed: int = 0, n: int = 256) -> Convergence:
    """How alike the positions' vectors become with depth in an untrained stack (GPT-2's
    initialisation), measured on ``n`` test problems as ``similarity`` measures after the last block."""
    check_positive_int(n, "n")
    model = build(n_layers, use_shortcut, seed=seed)
    inputs, _ = TASK.examples(problems()[1][:n])
    with record_inputs([*model.blocks, model.final_norm]) as stream:  # what enters each, (B, T, C)
        model(inputs)
    off_diagonal = ~torch.eye(inputs.shape[1], dtype=torch.bool)  # pairs of different positions
    mean_cosine = []
    for x in stream:
        unit = nn.functional.normalize(x, dim=-1)
        cosines = unit @ unit.transpose(1, 2)  # (B, T, T)
        mean_cosine.append(cosines[:, off_diagonal].mean().item())
    return Convergence(mean_cosine, torch.stack([x[0] for x in stream]))


def reference_losses(task: SortTask = TASK) -> dict[str, float]:
    """The loss per answer digit of the best predictions that ignore part of the input, over all
    ``n_digits ** length`` problems: one distribution for everything (``"constant"``), one per
    problem used at every answer position (``"problem"``: the problem's digit frequencies), one per
    answer position used for every problem (``"position"``)."""
    problems = torch.cat(task.split(SPLIT_SEED))  # every problem once, (N, length)
    answers = nn.functional.one_hot(problems.sort(dim=1).values, task.n_digits).double()
    counts = nn.functional.one_hot(problems, task.n_digits).double()  # (N, length, n_digits)

    def entropy(p: torch.Tensor) -> torch.Tensor:  # of distributions along the last axis
        return -torch.special.xlogy(p, p).sum(dim=-1)

    return {
        "constant": entropy(answers.mean(dim=(0, 1))).item(),
        "problem": entropy(counts.mean(dim=1)).mean().item(),  # the answer holds the same digits
        "position": entropy(answers.mean(dim=0)).mean().item(),
    }


@dataclass
class StepByStep:
    """One run's first steps: how much its output varies across inputs, and its gradient."""

    spread: list[float]  # logit spread across the training problems after 0, 1, 2, ... steps
    first_grad: list[float]  # the first block's weight-gradient norm at steps 0, 1, 2, ...


def step_by_step(
    n_layers: int = 8,
    steps: int = 5,
    seeds: Sequence[int] = (0, 1, 2),
    use_shortcut: bool = False,
    eps: float = 1e-5,
    budget: Budget = BUDGET,
) -> list[StepByStep]:
    """Train with the budget's settings for ``steps`` steps, recording every step, one run per
    seed; the logit spread is measured on the answer positions of the first 128 training problems."""
    _check_seeds(seeds)
    inputs, _ = TASK.examples(problems()[0][:128])
    train_problems, _ = problems()
    runs = []
    for seed in seeds:
        model = build(n_layers, use_shortcut, seed=seed, budget=budget, eps=eps)
        spreads = []

        @torch.no_grad()
        def measure(m: GPTModel, spreads: list[float] = spreads) -> None:  # at every step
            spreads.append(logit_spread(m, inputs, first=TASK.length - 1))

        history = train_sequence_model(
            model,
            TASK,
            train_problems,
            None,  # the test accuracy is not needed here
            steps=steps,
            lr=budget.lr,
            batch_size=budget.batch_size,
            seed=seed,
            record_every=1,
            n_eval=16,  # the loop's own loss record is not needed here
            on_record=measure,
        )
        runs.append(StepByStep(spreads, [norms[0] for norms in history.block_grad_norms]))
    return runs


def mean_square_fit(rms: Sequence[float]) -> tuple[float, float]:
    """Fit the stream's mean square after ``l`` blocks, over the embeddings', with ``1 + c * l``
    (least squares); return ``c`` and the largest relative deviation of the RMS from
    ``sqrt(1 + c * l)``: small if every block adds the same, independent variance."""
    r = np.asarray(rms, dtype=float) / rms[0]
    if len(r) < 2:
        raise ValueError("rms needs the embeddings' value and at least one block's")
    depth = np.arange(len(r))
    c = float(np.sum((r**2 - 1) * depth) / np.sum(depth**2))
    return c, float(np.max(np.abs(r / np.sqrt(1 + c * depth) - 1)))


def geometric_deviation(rms: Sequence[float]) -> float:
    """The largest relative deviation of the stream's RMS from the same growth factor per block."""
    r = np.asarray(rms, dtype=float) / rms[0]
    return float(np.max(np.abs(r / growth_per_block(rms) ** np.arange(len(r)) - 1)))
