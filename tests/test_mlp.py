"""Protects the demonstration network: shapes, where shortcuts apply, the book's published gradient
table (Raschka 2024, ch. 4), and clear errors for bad input."""

import itertools

import pytest
import torch

from gradflow.gradients import gradient_profile
from gradflow.mlp import ShortcutMLP, make_activation
from gradflow.published import RASCHKA_CH4_GRADIENTS, RASCHKA_CH4_SEED, RASCHKA_CH4_SIZES

# Raschka, *Build a Large Language Model (From Scratch)*, ch. 4: mean |gradient| of each layer's weight
# matrix for layer sizes [3, 3, 3, 3, 3, 1], seed 123, input [[1, 0, -1]], target [[0]], MSE loss.
PUBLISHED = {False: RASCHKA_CH4_GRADIENTS["without"], True: RASCHKA_CH4_GRADIENTS["with"]}
BOOK_SIZES = RASCHKA_CH4_SIZES


@pytest.mark.parametrize("use_shortcut", [False, True])
def test_reproduces_published_gradient_table(use_shortcut):
    torch.manual_seed(RASCHKA_CH4_SEED)
    model = ShortcutMLP(BOOK_SIZES, use_shortcut=use_shortcut)
    grads = gradient_profile(model, torch.tensor([[1.0, 0.0, -1.0]]), torch.tensor([[0.0]]))
    # the book prints five significant digits, so agreement is to about 1e-5 relative
    assert grads == pytest.approx(PUBLISHED[use_shortcut], rel=1e-4)


@pytest.mark.parametrize("use_shortcut", [False, True])
@pytest.mark.parametrize("sizes", [[3, 3, 3, 3, 3, 1], [4, 8, 8, 2], [5, 5]])
def test_output_shape(sizes, use_shortcut):
    model = ShortcutMLP(sizes, use_shortcut=use_shortcut)
    assert model(torch.randn(7, sizes[0])).shape == (7, sizes[-1])


def test_shortcut_applied_only_where_shapes_match():
    sizes = [3, 3, 4, 4, 2]
    torch.manual_seed(0)
    model = ShortcutMLP(sizes, use_shortcut=True)
    assert [model.has_shortcut(i) for i in range(4)] == [True, False, True, False]
    # Recompute the forward pass by hand from the layers: x + f(x) exactly where widths agree.
    x = torch.randn(5, 3)
    h = x
    for layer, (n_in, n_out) in zip(model.layers, itertools.pairwise(sizes), strict=True):
        h = h + layer(h) if n_in == n_out else layer(h)
    torch.testing.assert_close(model(x), h)


def test_without_shortcut_is_plain_composition():
    torch.manual_seed(0)
    model = ShortcutMLP([3, 3, 3], use_shortcut=False)
    x = torch.randn(2, 3)
    torch.testing.assert_close(model(x), model.layers[1](model.layers[0](x)))


def test_gelu_is_pytorchs_tanh_approximation():
    x = torch.linspace(-4, 4, 101, dtype=torch.float64)
    expected = torch.nn.functional.gelu(x, approximate="tanh")
    torch.testing.assert_close(make_activation("gelu")(x), expected)


def test_classifier_head_has_no_activation():
    torch.manual_seed(0)
    model = ShortcutMLP([4, 4, 3], activation="relu", last_activation=False)
    x = torch.randn(6, 4)
    last = model.layers[-1][0]  # the Linear of the last layer
    torch.testing.assert_close(model(x), last(model.layers[0](x)))


@pytest.mark.parametrize(
    ("sizes", "error", "message"),
    [
        ("333", TypeError, "list of positive ints"),
        (3, TypeError, "list of positive ints"),
        ([3], ValueError, "at least two"),
        ([3, 0, 1], ValueError, "entry 1 is 0"),
        ([3, -2, 1], ValueError, "entry 1 is -2"),
        ([3, 2.5, 1], TypeError, "entry 1"),
        ([3, True, 1], TypeError, "entry 1"),
    ],
)
def test_bad_layer_sizes(sizes, error, message):
    with pytest.raises(error, match=message):
        ShortcutMLP(sizes)


def test_bad_activation():
    with pytest.raises(ValueError, match="unknown activation 'swish'"):
        ShortcutMLP([3, 3], activation="swish")
