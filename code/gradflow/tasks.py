"""A sequence task a reader can check by eye: sort a short list of digits.

The model reads the problem, say ``2 0 1 1 0 2``, and then writes its answer ``0 0 1 1 2 2`` one digit
at a time, as in minGPT's demonstration (Karpathy, 2020). One example is the problem and its answer
side by side, ``2 0 1 1 0 2 0 0 1 1 2 2``; the model predicts every next token, and the loss counts
only the predictions of the answer. Every possible problem is enumerated once and split, for a
seed, into training and test problems, so that the test asks about lists the model never saw.
"""

import itertools
from dataclasses import dataclass

import torch
from torch import nn

from gradflow._checks import check_int, check_positive_int
from gradflow.init import generator

IGNORE = -100  # target of a problem position: cross_entropy skips it (its default ignore_index)


@dataclass(frozen=True)
class SortTask:
    """Sort ``length`` digits drawn from ``0 .. n_digits - 1``."""

    length: int = 6  # digits in a problem, and in its answer
    n_digits: int = 3  # the vocabulary: token ids 0 .. n_digits - 1

    def __post_init__(self):
        check_task(self)  # a reader's task is checked once, here

    @property
    def vocab_size(self) -> int:
        """How many token ids a model for this task must know."""
        return self.n_digits

    @property
    def context_length(self) -> int:
        """How many tokens the model reads at once (the problem, then its answer but the last digit)."""
        return 2 * self.length - 1

    def split(self, seed: int, test_fraction: float = 0.25) -> tuple[torch.Tensor, torch.Tensor]:
        """All ``n_digits ** length`` problems, shuffled by ``seed`` and split into (train, test)."""
        check_int(seed, "seed")
        if not 0 < test_fraction < 1:
            raise ValueError(f"test_fraction must lie between 0 and 1, got {test_fraction!r}")
        every = itertools.product(range(self.n_digits), repeat=self.length)
        problems = torch.tensor(list(every))  # (N, length): every problem
        order = torch.randperm(len(problems), generator=generator(seed))
        n_test = round(test_fraction * len(problems))
        return problems[order[n_test:]], problems[order[:n_test]]

    def examples(self, problems: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Inputs and next-token targets for ``problems``; targets in the problem are ``IGNORE``."""
        check_problems(self, problems)
        answers = problems.sort(dim=1).values
        tokens = torch.cat([problems, answers], dim=1)  # (N, 2 * length)
        inputs, targets = tokens[:, :-1], tokens[:, 1:].clone()  # (N, 2 * length - 1) each
        targets[:, : self.length - 1] = IGNORE  # predicting the problem's own digits is not asked
        return inputs, targets

    def accuracy(self, model: nn.Module, problems: torch.Tensor) -> float:
        """Fraction of ``problems`` whose whole answer the model writes correctly."""
        answers = sort_greedily(model, self, problems)
        return (answers == problems.sort(dim=1).values).all(dim=1).float().mean().item()


def check_task(task: SortTask) -> None:
    """Raise a clear error unless ``task`` has at least 2 digits of at least 2 kinds, and few
    enough problems to enumerate."""
    check_positive_int(task.length, "length", minimum=2)
    check_positive_int(task.n_digits, "n_digits", minimum=2)
    if task.n_digits**task.length > 1_000_000:
        raise ValueError(
            f"{task.n_digits}**{task.length} problems are too many to enumerate; "
            "choose a shorter length or fewer digits"
        )


def check_problems(task: SortTask, problems) -> torch.Tensor:
    """Return ``problems`` if it is a (N, length) tensor of digits; raise a clear error otherwise."""
    if not isinstance(problems, torch.Tensor) or problems.dtype != torch.long:
        raise TypeError("problems must be a torch.Tensor of digits (dtype torch.long)")
    if problems.dim() != 2 or problems.shape[1] != task.length:
        raise ValueError(
            f"problems must have shape (N, {task.length}), got {tuple(problems.shape)}"
        )
    if problems.numel() and (problems.min() < 0 or problems.max() >= task.n_digits):
        raise ValueError(f"problems must hold digits 0 .. {task.n_digits - 1}")
    return problems


def check_model_fits(model: nn.Module, task: SortTask) -> None:
    """Raise a clear error if ``model`` cannot read the task's tokens or sequences."""
    cfg = getattr(model, "cfg", None)
    if cfg is None or not hasattr(cfg, "vocab_size"):
        raise TypeError(f"model must be a gradflow.gpt.GPTModel, got {type(model).__name__}")
    if cfg.vocab_size < task.vocab_size:
        raise ValueError(
            f"the model's vocabulary ({cfg.vocab_size} tokens) is too small for the task's "
            f"{task.vocab_size} digits"
        )
    if cfg.context_length < task.context_length:
        raise ValueError(
            f"the task needs a context of {task.context_length} tokens but the model's context "
            f"length is {cfg.context_length}"
        )


@torch.no_grad()
def sort_greedily(model: nn.Module, task: SortTask, problems: torch.Tensor) -> torch.Tensor:
    """The model's answers to ``problems``: it writes one digit at a time, each its most likely."""
    check_model_fits(model, task)
    check_problems(task, problems)
    was_training = model.training
    model.eval()
    tokens = problems
    for _ in range(task.length):
        logits = model(tokens)[:, -1, : task.n_digits]  # (N, n_digits): the next digit's scores
        tokens = torch.cat([tokens, logits.argmax(dim=1, keepdim=True)], dim=1)
    model.train(was_training)
    return tokens[:, task.length :]  # (N, length)
