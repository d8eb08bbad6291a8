"""Protects gradflow.tasks: the sorting task's answers are right by construction (checked against
Python's own sorted), its split is a reproducible partition of every problem, greedy decoding and
accuracy agree with a hand-written oracle, and bad input is refused with a message naming it."""

import itertools

import pytest
import torch
from torch import nn
from torch.nn import functional as F

from gradflow.gpt import GPTConfig, GPTModel
from gradflow.tasks import IGNORE, SortTask, sort_greedily

TASK = SortTask(length=4, n_digits=3)


class Oracle(nn.Module):
    """Scores the right next digit highest wherever the answer is being written (or always ``fixed``)."""

    def __init__(self, task: SortTask, fixed: int | None = None):
        super().__init__()
        self.task, self.fixed = task, fixed
        self.cfg = GPTConfig(vocab_size=task.vocab_size, context_length=task.context_length,
                             emb_dim=4, n_heads=1, n_layers=1)  # fmt: skip

    def forward(self, tokens):
        B, T = tokens.shape
        logits = torch.zeros(B, T, self.task.vocab_size)
        for b in range(B):
            answer = sorted(tokens[b, : self.task.length].tolist())
            for t in range(self.task.length - 1, T):
                digit = self.fixed if self.fixed is not None else answer[t - self.task.length + 1]
                logits[b, t, digit] = 1.0
        return logits


def test_answers_are_the_sorted_problems():
    train, test = TASK.split(seed=0)
    inputs, targets = TASK.examples(train)
    for problem, x, y in zip(train.tolist(), inputs.tolist(), targets.tolist(), strict=True):
        answer = sorted(problem)
        assert x == problem + answer[:-1]  # the model reads the problem, then its own answer
        assert y == [IGNORE] * (TASK.length - 1) + answer  # and is asked only for the answer


def test_split_partitions_every_problem_and_repeats_per_seed():
    train, test = TASK.split(seed=3)
    every = {tuple(p) for p in itertools.product(range(3), repeat=4)}
    seen = [tuple(p) for p in torch.cat([train, test]).tolist()]
    assert len(seen) == len(set(seen)) == len(every) and set(seen) == every
    assert len(test) == round(0.25 * len(every))
    again_train, again_test = TASK.split(seed=3)
    assert torch.equal(train, again_train) and torch.equal(test, again_test)
    assert not torch.equal(test, TASK.split(seed=4)[1])


def test_ignored_targets_are_skipped_by_cross_entropy():
    inputs, targets = TASK.examples(TASK.split(seed=0)[0][:5])
    logits = torch.randn(
        *targets.shape, TASK.vocab_size, generator=torch.Generator().manual_seed(0)
    )
    loss = F.cross_entropy(logits.flatten(0, 1), targets.flatten())
    answer = slice(TASK.length - 1, None)
    by_hand = F.cross_entropy(logits[:, answer].flatten(0, 1), targets[:, answer].flatten())
    assert loss.item() == pytest.approx(by_hand.item())


def test_greedy_answers_and_accuracy_agree_with_an_oracle():
    _, test = TASK.split(seed=0)
    assert torch.equal(sort_greedily(Oracle(TASK), TASK, test), test.sort(dim=1).values)
    assert TASK.accuracy(Oracle(TASK), test) == 1.0
    # always writing 0 is right exactly for the problems made of zeros only
    zeros = sum(all(d == 0 for d in p) for p in test.tolist())
    assert TASK.accuracy(Oracle(TASK, fixed=0), test) == pytest.approx(zeros / len(test))


def test_greedy_decoding_leaves_the_model_mode_alone():
    model = GPTModel(GPTConfig(vocab_size=3, context_length=7, emb_dim=8, n_heads=2, n_layers=1))
    model.train()
    answers = sort_greedily(model, TASK, TASK.split(seed=0)[1][:4])
    assert answers.shape == (4, TASK.length) and model.training


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"length": 1}, ValueError, "length must be >= 2"),
        ({"n_digits": 1}, ValueError, "n_digits must be >= 2"),
        ({"length": 2.0}, TypeError, "length must be an int"),
        ({"length": 30, "n_digits": 10}, ValueError, "too many to enumerate"),
    ],
)
def test_bad_task_is_refused(kwargs, error, message):
    with pytest.raises(error, match=message):
        SortTask(**kwargs)


def test_bad_problems_and_models_are_refused():
    with pytest.raises(ValueError, match=r"shape \(N, 4\)"):
        TASK.examples(torch.zeros(2, 5, dtype=torch.long))
    with pytest.raises(TypeError, match="torch.long"):
        TASK.examples(torch.zeros(2, 4))
    with pytest.raises(ValueError, match="digits 0 .. 2"):
        TASK.examples(torch.full((2, 4), 3))
    with pytest.raises(ValueError, match="test_fraction"):
        TASK.split(seed=0, test_fraction=1.0)
    problems = TASK.split(seed=0)[1]
    small_vocab = GPTModel(
        GPTConfig(vocab_size=2, context_length=7, emb_dim=8, n_heads=2, n_layers=1)
    )
    with pytest.raises(ValueError, match="vocabulary"):
        sort_greedily(small_vocab, TASK, problems)
    short = GPTModel(GPTConfig(vocab_size=3, context_length=6, emb_dim=8, n_heads=2, n_layers=1))
    with pytest.raises(ValueError, match="context"):
        sort_greedily(short, TASK, problems)
    with pytest.raises(TypeError, match="GPTModel"):
        sort_greedily(nn.Linear(2, 2), TASK, problems)
