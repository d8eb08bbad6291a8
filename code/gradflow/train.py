"""Small, deterministic training loops, recording what lessons plot: a classifier on the digits, and a
regression onto given targets."""

from dataclasses import dataclass, field

import torch
from torch import nn

from gradflow._checks import check_int, check_positive_int, check_positive_number
from gradflow.data import Digits
from gradflow.gradients import weight_matrices

OPTIMIZERS = {"sgd": torch.optim.SGD, "adam": torch.optim.Adam}


@dataclass
class History:
    """What ``train_classifier`` recorded, once every ``record_every`` steps."""

    steps: list[int] = field(default_factory=list)  # step index of each record
    train_loss: list[float] = field(default_factory=list)  # cross-entropy on the whole training set
    test_accuracy: list[float] = field(default_factory=list)  # fraction of test digits right
    # ||W_after - W_before|| / ||W_before|| of that step's update, one entry per weight matrix
    relative_update: list[list[float]] = field(default_factory=list)


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
    check_int(seed, "seed")
    check_positive_int(steps, "steps")
    check_positive_int(batch_size, "batch_size")
    check_positive_int(record_every, "record_every")
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {optimizer!r}; choose one of {sorted(OPTIMIZERS)}")
    check_positive_number(lr, "lr")
    opt = OPTIMIZERS[optimizer](model.parameters(), lr=lr)
    gen = torch.Generator().manual_seed(seed)
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
        model.train()
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
    check_int(seed, "seed")
    for value, name in (
        (steps, "steps"),
        (batch_size, "batch_size"),
        (record_every, "record_every"),
    ):
        check_positive_int(value, name)
    check_positive_number(lr, "lr")
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    gen = torch.Generator().manual_seed(seed)
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
