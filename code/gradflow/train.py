"""Small, deterministic training loops, recording what lessons plot: a classifier on the digits, a
small GPT on a sequence task (``gradflow.tasks``, which the classifier does not need), and a
regression onto given targets."""

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import torch
from torch import nn

from gradflow._checks import check_int, check_positive_int, check_positive_number
from gradflow.data import Digits
from gradflow.gradients import block_weight_grad_norms, weight_matrices
from gradflow.init import generator

if TYPE_CHECKING:  # the task a sequence model trains on
    from gradflow.tasks import SortTask

OPTIMIZERS = {"sgd": torch.optim.SGD, "adam": torch.optim.Adam}


@dataclass
class History:
    """What a training loop recorded, once every ``record_every`` steps."""

    steps: list[int] = field(default_factory=list)  # step index of each record
    train_loss: list[float] = field(default_factory=list)  # cross-entropy on the training set
    # fraction of test examples right (train_sequence_model measures it after the last step only)
    test_accuracy: list[float] = field(default_factory=list)
    # ||W_after - W_before|| / ||W_before|| of that step's update, one entry per weight matrix
    relative_update: list[list[float]] = field(default_factory=list)
    # a GPT's per-block weight-gradient norm on that step's minibatch, first block first
    block_grad_norms: list[list[float]] = field(default_factory=list)


def _check_loop(seed: int, steps: int, lr: float, batch_size: int, record_every: int) -> None:
    """Raise a clear error if a training loop's settings cannot be used."""
    check_int(seed, "seed")
    for value, name in (
        (steps, "steps"),
        (batch_size, "batch_size"),
        (record_every, "record_every"),
    ):
        check_positive_int(value, name)
    check_positive_number(lr, "lr")


@torch.no_grad()
def evaluate(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> tuple[float, float]:
    """Cross-entropy loss and accuracy of ``model`` on (x, y)."""
    logits = model(x)
    return nn.functional.cross_entropy(logits, y).item(), (
        logits.argmax(1) == y
    ).float().mean().item()


def train_classifier(
    model: nn.Module,
    data: Digits,
    steps: int = 500,
    lr: float = 0.1,
    batch_size: int = 64,
    optimizer: str = "sgd",
    seed: int = 0,
    record_every: int = 10,
) -> History:
    """Train ``model`` with minibatches drawn by a seeded generator, so a run repeats exactly."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if not isinstance(data, Digits):
        raise TypeError(f"data must be a gradflow.data.Digits, got {type(data).__name__}")
    _check_loop(seed, steps, lr, batch_size, record_every)
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {optimizer!r}; choose one of {sorted(OPTIMIZERS)}")
    # foreach: each update is one call over all the tensors (the same numbers, fewer calls)
    opt = OPTIMIZERS[optimizer](model.parameters(), lr=lr, foreach=True)
    gen = generator(seed)
    weights = [p for _, p in weight_matrices(model)]
    history = History()
    n = data.x_train.shape[0]
    for step in range(steps + 1):
        record = step % record_every == 0 or step == steps
        if record:
            model.eval()
            loss, _ = evaluate(model, data.x_train, data.y_train)
            _, acc = evaluate(model, data.x_test, data.y_test)
            history.steps.append(step)
            history.train_loss.append(loss)
            history.test_accuracy.append(acc)
        if step == steps:
            break
        if record:
            model.train()  # back from evaluation (it visits every module: not on every step)
        idx = torch.randint(0, n, (batch_size,), generator=gen)
        before = [w.detach().clone() for w in weights] if record else None
        opt.zero_grad(set_to_none=True)
        nn.functional.cross_entropy(model(data.x_train[idx]), data.y_train[idx]).backward()
        opt.step()
        if record:
            history.relative_update.append(
                [((w - b).norm() / b.norm()).item() for w, b in zip(weights, before, strict=True)]
            )
    return history


def warmup_factor(step: int, warmup: int) -> float:
    """The learning rate's multiplier at ``step``: rising linearly to 1 over ``warmup`` steps."""
    return min(1.0, (step + 1) / warmup) if warmup > 0 else 1.0


def train_sequence_model(
    model: nn.Module,
    task: "SortTask",
    train_problems: torch.Tensor,
    test_problems: torch.Tensor | None,
    steps: int = 200,
    lr: float = 1e-3,
    warmup: int = 0,
    batch_size: int = 32,
    seed: int = 0,
    record_every: int = 10,
    n_eval: int = 128,
    on_record: Callable[[nn.Module], None] | None = None,
) -> History:
    """Train a small GPT on ``task`` with AdamW (GPT-2's betas 0.9 and 0.95, weight decay 0.01) and a
    learning rate that warms up linearly over ``warmup`` steps, then stays at ``lr``.

    Minibatches come from a seeded generator, so a run repeats exactly. Each record holds the loss on
    the answers of the first ``n_eval`` training problems and the per-block gradient norms of that
    step's minibatch; the fraction of test problems answered wholly right, which costs one forward
    pass per answer digit, is measured once, after the last step (not at all if ``test_problems`` is
    None). ``on_record``, if given, is
    called with the model at every record, for measurements of one's own. The task makes the
    examples (``task.examples``) and scores the answers (``task.accuracy``), as
    ``gradflow.tasks.SortTask`` does.
    """
    _check_loop(seed, steps, lr, batch_size, record_every)
    check_positive_int(n_eval, "n_eval")
    if check_int(warmup, "warmup") < 0:
        raise ValueError(f"warmup must be >= 0 steps, got {warmup}")
    opt = torch.optim.AdamW(
        model.parameters(), lr=lr, betas=(0.9, 0.95), weight_decay=0.01, foreach=True
    )
    schedule = torch.optim.lr_scheduler.LambdaLR(opt, lambda step: warmup_factor(step, warmup))
    gen = generator(seed)
    inputs, targets = task.examples(train_problems)  # (N, T) each, every training example
    history = History()
    for step in range(steps + 1):
        record = step % record_every == 0 or step == steps
        if record:
            model.eval()
            with torch.no_grad():
                logits = model(inputs[:n_eval])  # (n_eval, T, vocab_size)
                loss = nn.functional.cross_entropy(logits.flatten(0, 1), targets[:n_eval].flatten())
            history.steps.append(step)
            history.train_loss.append(loss.item())
            if on_record is not None:
                on_record(model)
        if step == steps:
            if test_problems is not None:
                history.test_accuracy.append(task.accuracy(model, test_problems))
            break
        if record:
            model.train()  # back from evaluation (it visits every module: not on every step)
        idx = torch.randint(0, len(train_problems), (batch_size,), generator=gen)
        opt.zero_grad(set_to_none=True)
        logits = model(inputs[idx])  # (B, T, vocab_size)
        nn.functional.cross_entropy(logits.flatten(0, 1), targets[idx].flatten()).backward()
        if record:
            history.block_grad_norms.append(block_weight_grad_norms(model))
        opt.step()
        schedule.step()
    return history


def fit_regression(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    steps: int = 600,
    lr: float = 1e-3,
    batch_size: int = 64,
    seed: int = 0,
    record_every: int = 25,
) -> tuple[list[int], list[float]]:
    """Fit ``model`` to the targets ``y`` with Adam on the mean squared error; record the relative
    error, the mean squared error over the whole set divided by the targets' variance (1 for a
    network that outputs the targets' mean, 0 for a perfect fit)."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if x.shape[0] != y.shape[0]:
        raise ValueError(f"x and y hold {x.shape[0]} and {y.shape[0]} examples; they must match")
    _check_loop(seed, steps, lr, batch_size, record_every)
    opt = torch.optim.Adam(model.parameters(), lr=lr, foreach=True)
    gen = generator(seed)
    variance = y.var().item()
    recorded_steps, errors = [], []
    for step in range(steps + 1):
        if step % record_every == 0 or step == steps:
            with torch.no_grad():
                errors.append(nn.functional.mse_loss(model(x), y).item() / variance)
            recorded_steps.append(step)
        if step == steps:
            break
        idx = torch.randint(0, x.shape[0], (batch_size,), generator=gen)
        opt.zero_grad(set_to_none=True)
        nn.functional.mse_loss(model(x[idx]), y[idx]).backward()
        opt.step()
    return recorded_steps, errors
