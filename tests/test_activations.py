"""Protects gradflow.activations: the autograd derivatives the vanishing-gradients lesson plots
(and the figure that plots them, gradflow.plots.vanishing_gradients.plot_activations).

Each activation's derivative is checked three ways that do not share code: autograd on the book's
modules, the closed form written by hand, and central finite differences of PyTorch's own functions.
The bounds the lesson states (sigmoid' <= 1/4, tanh' <= 1, ReLU' in {0, 1}) are checked by hand-derived
values; bad input must raise a clear error.
"""

import math

import pytest
import torch
from torch.nn import functional as F

from gradflow.activations import (
    ACTIVATION_NAMES,
    closed_form_derivative,
    max_derivative,
    value_and_derivative,
)
from gradflow.plots.vanishing_gradients import plot_activations

# PyTorch's own functions, independent of gradflow.mlp's modules
REFERENCE = {
    "sigmoid": torch.sigmoid,
    "tanh": torch.tanh,
    "relu": torch.relu,
    "gelu": lambda z: F.gelu(z, approximate="tanh"),
}

# a grid that avoids ReLU's kink at 0, where finite differences are meaningless
GRID = torch.linspace(-6.0, 6.0, 1200, dtype=torch.float64)


@pytest.mark.parametrize("name", ACTIVATION_NAMES)
def test_values_match_pytorch(name):
    y, _ = value_and_derivative(name, GRID)
    torch.testing.assert_close(y, REFERENCE[name](GRID))


@pytest.mark.parametrize("name", ACTIVATION_NAMES)
def test_autograd_derivative_matches_closed_form(name):
    _, dy = value_and_derivative(name, GRID)
    torch.testing.assert_close(dy, closed_form_derivative(name, GRID))


@pytest.mark.parametrize("name", ACTIVATION_NAMES)
def test_derivative_matches_finite_differences(name):
    h = 1e-6
    f = REFERENCE[name]
    numeric = (f(GRID + h) - f(GRID - h)) / (2 * h)
    _, dy = value_and_derivative(name, GRID)
    torch.testing.assert_close(dy, numeric, atol=1e-7, rtol=1e-6)


def test_sigmoid_derivative_at_zero_is_one_quarter():
    # sigma(0) = 1/2, so sigma'(0) = 1/2 * (1 - 1/2) = 1/4
    _, dy = value_and_derivative("sigmoid", torch.zeros(1, dtype=torch.float64))
    assert dy.item() == pytest.approx(0.25)


def test_relu_derivative_is_zero_or_one():
    _, dy = value_and_derivative("relu", GRID)
    assert set(dy.unique().tolist()) == {0.0, 1.0}
    torch.testing.assert_close(dy, (GRID > 0).double())


@pytest.mark.parametrize(("name", "bound"), [("sigmoid", 0.25), ("tanh", 1.0), ("relu", 1.0)])
def test_derivative_bounds(name, bound):
    # hand-derived maxima: sigma' peaks at 1/4 (z = 0), tanh' at 1 (z = 0), ReLU' is 1 for z > 0
    assert max_derivative(name) == pytest.approx(bound, abs=1e-9)


def test_gelu_derivative_exceeds_one():
    # GELU overshoots: z * Phi(z) has slope above 1 for moderate z > 0 (Hendrycks & Gimpel, fig. 1)
    z = torch.linspace(0.5, 3.0, 2501, dtype=torch.float64)
    h = 1e-6
    numeric_max = ((REFERENCE["gelu"](z + h) - REFERENCE["gelu"](z - h)) / (2 * h)).max().item()
    assert max_derivative("gelu") == pytest.approx(numeric_max, abs=1e-6)
    assert 1.0 < numeric_max < 1.2


def test_float32_input_keeps_dtype():
    z = torch.linspace(-1, 1, 5)
    y, dy = value_and_derivative("tanh", z)
    assert y.dtype == dy.dtype == torch.float32
    assert not z.requires_grad  # the caller's tensor is left alone


@pytest.mark.parametrize("fn", [value_and_derivative, closed_form_derivative])
def test_unknown_activation_raises(fn):
    with pytest.raises(ValueError, match="unknown activation 'swish'"):
        fn("swish", GRID)


@pytest.mark.parametrize("fn", [value_and_derivative, closed_form_derivative])
def test_empty_points_raise(fn):
    with pytest.raises(ValueError, match="z is empty"):
        fn("tanh", torch.empty(0))


def test_integer_points_raise():
    with pytest.raises(TypeError, match="floating-point"):
        value_and_derivative("tanh", torch.arange(3))


def test_non_string_name_raises():
    with pytest.raises(TypeError, match="activation must be a str"):
        value_and_derivative(3, GRID)


def test_bad_interval_raises():
    with pytest.raises(ValueError, match="lo < hi"):
        max_derivative("tanh", lo=1.0, hi=-1.0)
    with pytest.raises(ValueError, match="lo < hi"):
        plot_activations(lo=2.0, hi=2.0)


def test_plot_has_one_line_per_activation_in_each_panel():
    fig = plot_activations()
    ax_values, ax_derivs = fig.axes
    assert len(ax_values.get_lines()) == len(ACTIVATION_NAMES)
    # the derivative panel also holds the dotted reference line at 1/4
    assert len(ax_derivs.get_lines()) == len(ACTIVATION_NAMES) + 1
    assert math.isclose(ax_derivs.get_lines()[-1].get_ydata()[0], 0.25)
