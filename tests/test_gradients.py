"""Protects the gradient measurements: hand-derived gradients of tiny networks, the branch Jacobians
against PyTorch's Jacobian of the whole network, and clear errors for bad input."""

import pytest
import torch
from torch import nn

from gradflow.gradients import (
    backward_once,
    branch_jacobians,
    gradient_factors,
    gradient_profile,
    weight_matrices,
)
from gradflow.mlp import ShortcutMLP


def scalar_relu_net(use_shortcut: bool, w1: float, w2: float) -> ShortcutMLP:
    """A two-layer network of width 1 with ReLU, no biases, and the given weights."""
    model = ShortcutMLP([1, 1, 1], use_shortcut=use_shortcut, activation="relu")
    with torch.no_grad():
        for layer, w in zip(model.layers, (w1, w2), strict=True):
            layer[0].weight.fill_(w)
            layer[0].bias.zero_()
    return model


@pytest.mark.parametrize(
    ("use_shortcut", "expected"),
    [
        # plain: h1 = w1 x = 0.5, y = w2 h1 = 1, L = y^2 = 1.
        #   dL/dw2 = 2y h1 = 1;  dL/dw1 = 2y w2 x = 4
        (False, [4.0, 1.0]),
        # residual: h1 = x + w1 x = 1.5, y = h1 + w2 h1 = 4.5, L = y^2.
        #   dL/dw2 = 2y h1 = 13.5;  dL/dw1 = 2y (1 + w2) x = 27  (the shortcut's "1 +")
        (True, [27.0, 13.5]),
    ],
)
def test_gradient_derived_by_hand(use_shortcut, expected):
    model = scalar_relu_net(use_shortcut, w1=0.5, w2=2.0)
    grads = gradient_profile(model, torch.tensor([[1.0]]), torch.tensor([[0.0]]))
    assert grads == pytest.approx(expected, rel=1e-6)


@pytest.mark.parametrize(
    ("use_shortcut", "error", "path", "inputs"),
    [
        # plain (see above): y = 1, dL/dy = 2; delta_2 = 2, delta_1 = w2 * 2 = 4; inputs x = 1, h1 = 0.5
        (False, 2.0, [2.0, 1.0], [1.0, 0.5]),
        # residual: y = 4.5, dL/dy = 9; delta_2 = 9 (the branch's pre-activation),
        # delta_1 = (1 + w2) * 9 = 27; inputs x = 1, h1 = 1.5
        (True, 9.0, [3.0, 1.0], [1.0, 1.5]),
    ],
)
def test_gradient_factors_derived_by_hand(use_shortcut, error, path, inputs):
    model = scalar_relu_net(use_shortcut, w1=0.5, w2=2.0)
    factors = gradient_factors(model, torch.tensor([[1.0]]), torch.tensor([[0.0]]))
    assert factors["error"] == pytest.approx(error)
    assert factors["path"] == pytest.approx(path)
    assert factors["input"] == pytest.approx(inputs)


@pytest.mark.parametrize("use_shortcut", [False, True])
def test_gradient_factors_multiply_to_autograds_weight_gradient(use_shortcut):
    # mean|u v^T| = mean|u| mean|v|: the three factors must give back autograd's mean |dL/dW|
    torch.manual_seed(123)
    model = ShortcutMLP([3, 3, 3, 3, 3, 1], use_shortcut=use_shortcut)
    x, t = torch.tensor([[1.0, 0.0, -1.0]]), torch.tensor([[0.0]])
    factors = gradient_factors(model, x, t)
    product = [
        factors["error"] * p * h for p, h in zip(factors["path"], factors["input"], strict=True)
    ]
    assert product == pytest.approx(gradient_profile(model, x, t), rel=1e-5)


def test_gradient_factors_need_one_example():
    with pytest.raises(ValueError, match="exactly one example"):
        gradient_factors(ShortcutMLP([3, 1]), torch.zeros(2, 3), torch.zeros(2, 1))


def test_mean_abs_and_norm_of_a_linear_layer_by_hand():
    # L = (w . x - t)^2 with w = (1, 2), x = (3, -1), t = 0  ->  dL/dw = 2 (w.x) x = 2 * 1 * (3, -1)
    model = nn.Sequential(nn.Linear(2, 1, bias=False))
    with torch.no_grad():
        model[0].weight.copy_(torch.tensor([[1.0, 2.0]]))
    x, t = torch.tensor([[3.0, -1.0]]), torch.tensor([[0.0]])
    assert gradient_profile(model, x, t, "mean_abs") == pytest.approx([(6 + 2) / 2])
    assert gradient_profile(model, x, t, "norm") == pytest.approx([40**0.5])


def test_backward_once_returns_loss_and_zeroes_old_gradients():
    model = scalar_relu_net(False, w1=0.5, w2=2.0)
    x, t = torch.tensor([[1.0]]), torch.tensor([[0.0]])
    assert backward_once(model, x, t) == pytest.approx(1.0)
    backward_once(model, x, t)  # a second pass must not accumulate onto the first
    assert gradient_profile(model, x, t) == pytest.approx([4.0, 1.0])


def test_weight_matrices_skip_biases():
    names = [n for n, _ in weight_matrices(ShortcutMLP([3, 4, 2]))]
    assert names == ["layers.0.0.weight", "layers.1.0.weight"]


@pytest.mark.parametrize("use_shortcut", [False, True])
def test_branch_jacobians_compose_to_the_networks_jacobian(use_shortcut):
    torch.manual_seed(1)
    model = ShortcutMLP([3, 3, 3, 3, 2], use_shortcut=use_shortcut)
    x = torch.randn(1, 3)
    full = torch.autograd.functional.jacobian(lambda v: model(v)[0], x)[:, 0, :]  # (2, 3)
    product = torch.eye(3)
    for i, jac in enumerate(branch_jacobians(model, x)):
        factor = torch.eye(jac.shape[1]) + jac if model.has_shortcut(i) else jac
        product = factor @ product
    torch.testing.assert_close(product, full)


def test_bad_arguments():
    model = ShortcutMLP([3, 1])
    x, t = torch.ones(2, 3), torch.ones(2, 1)
    with pytest.raises(ValueError, match="unknown statistic 'max'"):
        gradient_profile(model, x, t, statistic="max")
    with pytest.raises(TypeError, match="model must be a torch.nn.Module"):
        gradient_profile("model", x, t)
    with pytest.raises(ValueError, match="same number of examples"):
        gradient_profile(model, x, torch.ones(3, 1))
    with pytest.raises(ValueError, match=r"target has shape \(2, 5\) but the model's output"):
        gradient_profile(model, x, torch.ones(2, 5))
    with pytest.raises(ValueError, match="same number of examples"):
        gradient_profile(model, x, torch.tensor(1.0))
    with pytest.raises(TypeError, match="target must be a torch.Tensor"):
        gradient_profile(model, x, [[1.0], [1.0]])
