"""The 8x8 handwritten digits that ship with scikit-learn, split and standardised once, reproducibly."""

from dataclasses import dataclass

import numpy as np
import torch

from gradflow._checks import check_int
from gradflow.init import book_seed


@dataclass(frozen=True)
class Digits:
    """A train/test split of the digits: features (N, 64) float32, labels (N,) int64."""

    x_train: torch.Tensor  # (N_train, 64) standardised with the training set's mean and std
    y_train: torch.Tensor  # (N_train,) class index 0..9
    x_test: torch.Tensor  # (N_test, 64) standardised with the *training* set's statistics
    y_test: torch.Tensor  # (N_test,)


def load_digits(test_fraction: float = 0.25, seed: int = 0) -> Digits:
    """Load scikit-learn's 1,797 digits and split them with a fixed seed (no download involved)."""
    if isinstance(test_fraction, bool) or not isinstance(test_fraction, (int, float)):
        raise TypeError(f"test_fraction must be a float, got {type(test_fraction).__name__}")
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction must lie strictly between 0 and 1, got {test_fraction}")
    check_int(seed, "seed")
    # imported here, not at the top: scikit-learn takes about two seconds to import, and only the
    # chapters on the digits need it (every chapter imports this module through gradflow.train)
    from sklearn.datasets import load_digits as sklearn_digits

    bunch = sklearn_digits()
    x = bunch.data.astype(np.float32)  # (1797, 64), pixel intensities 0..16
    y = bunch.target.astype(np.int64)
    order = np.random.default_rng(book_seed(seed)).permutation(len(x))
    n_test = round(test_fraction * len(x))
    test, train = order[:n_test], order[n_test:]
    mean = x[train].mean(axis=0)
    std = x[train].std(axis=0) + 1e-6  # some border pixels are always 0
    x = (x - mean) / std
    return Digits(
        x_train=torch.from_numpy(x[train]),
        y_train=torch.from_numpy(y[train]),
        x_test=torch.from_numpy(x[test]),
        y_test=torch.from_numpy(y[test]),
    )
