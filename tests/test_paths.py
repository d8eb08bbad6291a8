"""Protects the measurements of the unrolled view and of shattered gradients (gradflow.paths) and the
gated residual network (gradflow.mlp), against hand-derived cases: path counts are binomial
coefficients; with every branch zeroed a residual network is the identity; a gate initialised at zero
makes the network the identity and still receives a gradient; routing the gradient through all
shortcuts or all branches gives what calculus says; deleting a block keeps the shapes; the Jacobian's
singular values match an SVD of autograd's Jacobian; bad input raises a clear error."""

import math

import pytest
import torch
from matplotlib.patches import FancyBboxPatch
from torch import nn

from gradflow.diagrams import paths_diagram
from gradflow.mlp import GatedResidualMLP, ScaledShortcutMLP
from gradflow.paths import (
    input_gradients,
    jacobian_singular_values,
    lesion,
    path_counts,
    path_gradients,
    peak_length,
    routed_forward,
    signal_rms,
)


def residual(n_blocks=4, width=6, scale=0.5, n_out=3, seed=0):
    torch.manual_seed(seed)
    return ScaledShortcutMLP([width] * (n_blocks + 1) + [n_out], True, branch_scale=scale)


@pytest.mark.parametrize("n", [0, 1, 2, 5, 12, 32])
def test_path_counts_are_binomial_coefficients(n):
    counts = path_counts(n)
    assert counts == [math.comb(n, k) for k in range(n + 1)]
    assert sum(counts) == 2**n


@pytest.mark.parametrize("n", [1, 8, 32])
@pytest.mark.parametrize("factor", [0.05, 0.3, 0.9, 2.5])
def test_peak_length_is_where_the_weighted_counts_peak(n, factor):
    weighted = [math.comb(n, k) * factor**k for k in range(n + 1)]
    assert weighted[peak_length(n, factor)] == max(weighted)


def test_path_counts_of_two_blocks_by_hand():
    # x, F1(x), F2(x + F1 x) split into: no branch, F1 only, F2 only, both
    assert path_counts(2) == [1, 2, 1]


def test_zeroed_branches_make_the_residual_network_the_identity():
    model = residual(n_blocks=5, width=6, n_out=6)  # the 6 -> 6 output layer is a block too
    assert all(model.has_shortcut(i) for i in range(6))
    with torch.no_grad():
        for layer in model.layers:
            layer[0].weight.zero_()
            layer[0].bias.zero_()
    x = torch.randn(7, 6)
    assert torch.equal(model(x), x)


def test_zero_gates_make_the_network_the_identity_and_receive_a_gradient():
    torch.manual_seed(0)
    model = GatedResidualMLP([5] * 7)  # six gated blocks, no output layer
    assert model.gates.shape == (6,) and torch.count_nonzero(model.gates) == 0
    x = torch.randn(4, 5)
    out = model(x)
    assert torch.equal(out, x)
    # dL/d(gate_l) = <dL/dh_l, F_l(h_{l-1})>; with h_l = x everywhere and L = sum(out * v):
    v = torch.randn(4, 5)
    (out * v).sum().backward()
    expected = torch.stack([(v * layer(x)).sum() for layer in model.layers]).detach()
    assert torch.allclose(model.gates.grad, expected, atol=1e-6)
    assert torch.count_nonzero(model.gates.grad) > 0
    for layer in model.layers:  # the branches' weights get no gradient until a gate opens
        assert torch.count_nonzero(layer[0].weight.grad) == 0


def test_gated_block_by_hand():
    torch.manual_seed(0)
    model = GatedResidualMLP([3, 3, 2], gate_init=0.7)
    x = torch.randn(2, 3)
    lin, out = model.layers[0][0], model.layers[1][0]
    h = x + 0.7 * torch.relu(x @ lin.weight.T + lin.bias)
    assert torch.allclose(model(x), h @ out.weight.T + out.bias, atol=1e-6)


def test_routed_forward_keeps_the_values_and_routes_the_gradient():
    model = residual(n_blocks=3, width=4, scale=0.5, n_out=3)
    x = torch.randn(1, 4)
    for route in ([False] * 3, [True] * 3, [True, False, True]):
        assert torch.allclose(routed_forward(model, x, route), model(x))
    # all shortcuts: the input reaches the output layer unchanged, so d out / dx = W_out
    jac = torch.autograd.functional.jacobian(lambda h: routed_forward(model, h, [False] * 3), x)
    assert torch.allclose(jac[0, :, 0, :], model.layers[-1][0].weight, atol=1e-6)
    # all branches: the product of the branch Jacobians s * diag(relu') W, then W_out
    h, expected = x[0], model.layers[-1][0].weight
    factors = []
    for layer in model.layers[:-1]:
        lin = layer[0]
        pre = lin.weight @ h + lin.bias
        factors.append(0.5 * torch.diag((pre > 0).float()) @ lin.weight)
        h = h + 0.5 * torch.relu(pre)
    for f in reversed(factors):
        expected = expected @ f
    jac = torch.autograd.functional.jacobian(lambda h: routed_forward(model, h, [True] * 3), x)
    assert torch.allclose(jac[0, :, 0, :], expected, atol=1e-6)


def test_path_gradients_has_one_entry_per_length_and_length_zero_is_exact():
    model = residual(n_blocks=4, width=6, n_out=3)
    x, y = torch.randn(8, 6), torch.tensor([0, 1, 2, 0, 1, 2, 0, 1])
    grads = path_gradients(model, x, y, samples=3, seed=0)
    assert grads.shape == (5,)
    # the path through no branch is unique: the input goes straight to the output layer
    hidden = x.clone()
    with torch.no_grad():
        for layer in model.layers[:-1]:
            hidden = hidden + 0.5 * layer(hidden)
    x_in = x.clone().requires_grad_(True)
    out = model.layers[-1](x_in + (hidden - x))  # same values, gradient only through the shortcuts
    (g,) = torch.autograd.grad(nn.functional.cross_entropy(out, y), x_in)
    assert grads[0] == pytest.approx(g.double().norm().item(), rel=1e-5)


@pytest.mark.parametrize("use_shortcut", [False, True])
def test_lesion_keeps_shapes_and_restores_the_model(use_shortcut):
    torch.manual_seed(0)
    model = ScaledShortcutMLP([6] * 5 + [3], use_shortcut, branch_scale=0.5)
    x = torch.randn(5, 6)
    before = model(x)
    with lesion(model, [1, 2]):
        out = model(x)
        assert out.shape == (5, 3)
    assert torch.equal(model(x), before)  # the hooks are gone after the with block
    # by hand: deleting blocks 1 and 2 leaves layers 0 and 3 (and the output layer)
    h = x
    for i in (0, 3):
        h = h + 0.5 * model.layers[i](h) if use_shortcut else model.layers[i](h)
    assert torch.allclose(out, model.layers[4](h), atol=1e-6)


def test_deleting_every_block_of_a_residual_network_leaves_the_output_layer():
    model = residual(n_blocks=3, width=4, n_out=2)
    x = torch.randn(3, 4)
    with lesion(model, range(3)):
        assert torch.allclose(model(x), model.layers[-1](x))


def test_input_gradients_by_hand():
    lin = nn.Linear(3, 2)
    model = nn.Sequential(lin)
    x = torch.randn(4, 3)
    grads = input_gradients(model, x, output=1)
    assert torch.allclose(grads, lin.weight[1].expand(4, 3))  # a linear map: the same everywhere


def test_jacobian_singular_values_match_an_svd_of_autograds_jacobian():
    model = residual(n_blocks=3, width=5, n_out=2)
    x = torch.randn(1, 5)

    def hidden(h):
        for layer in model.layers[:-1]:
            h = h + 0.5 * layer(h)
        return h[0]

    jac = torch.autograd.functional.jacobian(hidden, x)[:, 0, :]
    expected = torch.linalg.svdvals(jac.double())
    assert torch.allclose(jacobian_singular_values(model, x), expected, atol=1e-6)


def test_signal_rms_by_hand():
    model = residual(n_blocks=2, width=4, n_out=2)
    x = torch.randn(6, 4)
    h1 = x + 0.5 * model.layers[0](x)
    h2 = h1 + 0.5 * model.layers[1](h1)
    expected = [t.pow(2).mean().sqrt().item() for t in (x, h1, h2)]
    assert signal_rms(model, x) == pytest.approx(expected, rel=1e-6)


def test_bad_input_is_rejected():
    model = residual(n_blocks=3, width=4, n_out=2)
    with pytest.raises(ValueError, match="n_blocks must be >= 0"):
        path_counts(-1)
    with pytest.raises(TypeError, match="n_blocks must be an int"):
        path_counts(2.0)
    with pytest.raises(ValueError, match="zip"):  # one entry of route per residual block
        routed_forward(model, torch.randn(1, 4), [True])
    with pytest.raises(ValueError, match="block 3 is not a hidden layer"):
        with lesion(model, [3]):
            pass
    with pytest.raises(TypeError, match="model must keep its layers"):
        signal_rms(nn.Linear(4, 4), torch.randn(2, 4))
    with pytest.raises(ValueError, match="exactly one example"):
        jacobian_singular_values(model, torch.randn(2, 4))
    with pytest.raises(ValueError, match="no residual blocks"):
        plain = ScaledShortcutMLP([4, 4, 2], use_shortcut=False)
        path_gradients(plain, torch.randn(2, 4), torch.tensor([0, 1]))
    with pytest.raises(ValueError, match="no residual block"):
        GatedResidualMLP([4, 5, 2])
    with pytest.raises(TypeError, match="must be Number"):  # torch.full's own check
        GatedResidualMLP([4, 4], gate_init="0")


@pytest.mark.parametrize("n", [1, 2, 3, 4])
def test_the_unrolled_view_draws_every_path_once(n):
    """2**n rows; comb(n, k) rows of length k; each block's branch on half the paths (by hand: a
    path picks, for each block, the branch or the shortcut)."""
    fig = paths_diagram(n)
    ax = fig.axes[0]
    lengths = [t.get_text() for t in ax.texts if t.get_text().startswith("length ")]
    assert len(lengths) == 2**n
    assert [lengths.count(f"length {k}") for k in range(n + 1)] == [
        math.comb(n, k) for k in range(n + 1)
    ]
    boxes = [p for p in ax.patches if isinstance(p, FancyBboxPatch)]
    assert len(boxes) == n * 2 ** (n - 1)
    labels = [t.get_text() for t in ax.texts if t.get_text().startswith("$F_")]
    assert all(labels.count(f"$F_{b}$") == 2 ** (n - 1) for b in range(1, n + 1))


@pytest.mark.parametrize(
    "n, error", [(0, ValueError), (5, ValueError), (2.0, TypeError), (True, TypeError)]
)
def test_the_unrolled_view_refuses_what_it_cannot_draw(n, error):
    with pytest.raises(error, match="n_blocks"):
        paths_diagram(n)
