"""Protects gradflow.init: each scheme draws with its published standard deviation (Glorot & Bengio
2010; He et al. 2015), seeding leaves the caller's random state alone, and an
unknown scheme is refused."""

import math

import pytest
import torch
from torch import nn

from gradflow.init import init_weights


@pytest.mark.parametrize(
    ("scheme", "std"),
    [
        ("xavier", math.sqrt(2 / (400 + 500))),  # Glorot & Bengio (2010), eq. 16's variance
        ("he", math.sqrt(2 / 400)),  # He et al. (2015), eq. 10: Var = 2 / fan_in
        ("torch", 1 / math.sqrt(3 * 400)),  # U(-1/sqrt(n), 1/sqrt(n)) has std 1 / sqrt(3n)
    ],
)
def test_scheme_standard_deviation_and_biases(scheme, std):
    layer = nn.Linear(400, 500)  # 200,000 weights pin the std to ~0.2 %
    init_weights(layer, scheme, seed=0)
    assert layer.weight.std().item() == pytest.approx(std, rel=0.05)
    assert abs(layer.weight.mean().item()) < 1e-3
    if scheme != "torch":
        assert torch.count_nonzero(layer.bias) == 0


def test_zero_bias_false_keeps_the_biases():
    layer = nn.Linear(8, 8)
    bias = layer.bias.detach().clone()
    init_weights(layer, "xavier", seed=0, zero_bias=False)
    assert torch.equal(layer.bias, bias)


def test_seed_leaves_the_global_generator_alone_and_repeats():
    a, b = nn.Linear(6, 6), nn.Linear(6, 6)
    torch.manual_seed(7)
    expected = torch.rand(3)
    torch.manual_seed(7)
    init_weights(a, "he", seed=1)
    assert torch.equal(torch.rand(3), expected)
    init_weights(b, "he", seed=1)
    assert torch.equal(a.weight, b.weight)


def test_seeded_draws_equal_manual_seed_draws():
    # the seeded form draws exactly what manual_seed(seed) followed by the same calls would
    torch.manual_seed(3)
    reference = nn.init.kaiming_normal_(torch.empty(5, 4), nonlinearity="relu")
    layer = init_weights(nn.Linear(4, 5), "he", seed=3)
    assert torch.equal(layer.weight, reference)


def test_unknown_scheme_is_refused():
    with pytest.raises(ValueError, match="unknown init scheme 'orthogonal'"):
        init_weights(nn.Linear(2, 2), "orthogonal")
