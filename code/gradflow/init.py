"""Weight initialisation for any model, and the book's seeds: PyTorch's default, Xavier and He.

``init_weights(model, scheme, seed=...)`` redraws the weights of every ``nn.Linear`` of a model in
module order. Xavier follows Glorot & Bengio (2010), He follows He et al. (2015). GPT-2's scheme
belongs to its model: :func:`gradflow.gpt.init_gpt2`.
"""

import math
import os
from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import nn

from gradflow._checks import check_int, check_positive_number

SCHEMES = ("torch", "xavier", "he")  # the names used everywhere in the package


def book_seed(seed: int) -> int:
    """``seed`` shifted by the book-wide offset ``GRADFLOW_SEED_OFFSET`` (0 unless set).

    Every seed the package draws with passes through here, so the whole book can be rerun with other
    seeds (``nox -s robustness``); a seed a lesson gives ``torch.manual_seed`` itself (a published one,
    such as Raschka's 123) is left as it is.
    """
    check_int(seed, "seed")
    offset = os.environ.get("GRADFLOW_SEED_OFFSET", "0")
    try:
        return seed + int(offset)
    except ValueError:
        raise ValueError(f"GRADFLOW_SEED_OFFSET must be a whole number, got {offset!r}") from None


def generator(seed: int) -> torch.Generator:
    """A generator of its own, seeded with ``book_seed(seed)``."""
    return torch.Generator().manual_seed(book_seed(seed))


@contextmanager
def seeded(seed: int | None) -> Iterator[None]:
    """Draw from PyTorch's generator seeded with ``seed``, restoring the caller's state afterwards."""
    if seed is None:  # draw from the caller's generator as it is
        yield
        return
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(book_seed(seed))
        yield


def scaled_normal_(w: torch.Tensor, c: float) -> torch.Tensor:
    """Redraw ``w`` from N(0, c^2 / fan_in): ``c`` is the std in units of 1 / sqrt(fan_in)."""
    return nn.init.normal_(w, std=c / math.sqrt(w.shape[1]))


@torch.no_grad()
def init_weights(model: nn.Module, scheme: str | float, seed: int | None = None,
                 zero_bias: bool = True) -> nn.Module:  # fmt: skip
    """Redraw the weights of ``model`` with ``scheme``; return the model.

    ``scheme`` is ``"torch"`` (PyTorch's default, redrawn by ``reset_parameters``), ``"xavier"``
    (normal, std sqrt(2 / (fan_in + fan_out))), ``"he"`` (normal, std sqrt(2 / fan_in)) or a number
    ``c`` (normal, std c / sqrt(fan_in)). ``zero_bias`` sets the Linear biases to zero; with ``seed``
    the draws come from a generator seeded with it, without changing the caller's random state.
    """
    if isinstance(scheme, str) and scheme not in SCHEMES:
        raise ValueError(f"unknown init scheme {scheme!r}; choose one of {list(SCHEMES)}")
    if not isinstance(scheme, str):
        check_positive_number(scheme, "scheme")
    with seeded(seed):
        if scheme == "torch":
            for m in model.modules():
                if isinstance(m, (nn.Linear, nn.Embedding)):
                    m.reset_parameters()
            return model
        for m in model.modules():
            if not isinstance(m, nn.Linear):
                continue
            if scheme == "xavier":
                nn.init.xavier_normal_(m.weight)
            elif scheme == "he":
                nn.init.kaiming_normal_(m.weight, mode="fan_in", nonlinearity="relu")
            else:
                scaled_normal_(m.weight, scheme)
            if zero_bias and m.bias is not None:
                nn.init.zeros_(m.bias)
    return model
