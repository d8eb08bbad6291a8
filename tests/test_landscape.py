"""Protects the loss-landscape code (Li et al. 2018): filter normalisation gives every filter of a
direction its weights' norm and leaves biases out, the grid evaluates the loss at exactly
``weights + a * d1 + b * d2`` (checked against a model whose weights were shifted by hand), the model
is left untouched, and bad input raises a clear error."""

import copy

import numpy as np
import pytest
import torch
from torch import nn

from gradflow.landscape import (
    filter_normalize,
    filter_normalized_direction,
    grid_coordinates,
    loss_line,
    loss_plane,
    loss_rise,
    random_direction,
)
from gradflow.mlp import ShortcutMLP


def small_mlp(use_shortcut: bool) -> ShortcutMLP:
    torch.manual_seed(0)
    return ShortcutMLP(
        [6, 6, 6, 3], use_shortcut=use_shortcut, activation="relu", last_activation=False
    )


def small_cnn() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(2, 4, 3), nn.BatchNorm2d(4), nn.Flatten(), nn.Linear(4 * 3 * 3, 3)
    )


def toy_data(n: int = 20, width: int = 6):
    gen = torch.Generator().manual_seed(1)
    return torch.randn(n, width, generator=gen), torch.randint(0, 3, (n,), generator=gen)


@pytest.mark.parametrize("make", [lambda: small_mlp(False), lambda: small_mlp(True), small_cnn])
def test_filter_normalised_direction_has_the_weights_per_filter_norms(make):
    model = make()
    d = filter_normalized_direction(model, seed=3)
    for name, w in model.named_parameters():
        if w.dim() <= 1:  # biases and BatchNorm parameters are left out: zero direction
            assert torch.count_nonzero(d[name]) == 0, name
            continue
        for i in range(w.shape[0]):  # one filter per output neuron / channel
            expected = torch.linalg.vector_norm(w[i].detach())
            assert torch.linalg.vector_norm(d[name][i]) == pytest.approx(expected.item(), rel=1e-5)


def test_filter_normalisation_keeps_each_filters_direction():
    model = small_mlp(False)
    raw = random_direction(model, seed=5)
    d = filter_normalize(raw, model)
    w = model.layers[0][0].weight
    cos = nn.functional.cosine_similarity(d["layers.0.0.weight"], raw["layers.0.0.weight"], dim=1)
    assert torch.allclose(cos, torch.ones(w.shape[0]), atol=1e-6)


def test_random_direction_is_seeded_and_zero_on_biases():
    model = small_mlp(True)
    a, b, c = random_direction(model, 1), random_direction(model, 1), random_direction(model, 2)
    for name in a:
        assert torch.equal(a[name], b[name])
    assert not torch.equal(a["layers.0.0.weight"], c["layers.0.0.weight"])
    assert torch.count_nonzero(a["layers.0.0.bias"]) == 0


@pytest.mark.parametrize("use_shortcut", [False, True])
def test_grid_centre_is_the_loss_at_the_trained_weights(use_shortcut):
    model, (x, y) = small_mlp(use_shortcut), toy_data()
    coords = grid_coordinates(1.0, 5)
    d1, d2 = filter_normalized_direction(model, 1), filter_normalized_direction(model, 2)
    plane = loss_plane(model, x, y, d1, d2, coords)
    with torch.no_grad():
        expected = nn.functional.cross_entropy(model(x), y).item()
    assert plane.shape == (5, 5)
    assert plane[2, 2] == pytest.approx(expected, rel=1e-6)


@pytest.mark.parametrize("use_shortcut", [False, True])
def test_grid_point_equals_a_model_with_hand_shifted_weights(use_shortcut):
    model, (x, y) = small_mlp(use_shortcut), toy_data()
    d1, d2 = filter_normalized_direction(model, 1), filter_normalized_direction(model, 2)
    alphas, betas = [-0.5, 0.25], [0.75, -1.0, 0.1]
    plane = loss_plane(model, x, y, d1, d2, alphas, betas)
    assert plane.shape == (3, 2)  # rows follow betas, columns alphas
    shifted = copy.deepcopy(model)
    state = {
        n: p.detach() + alphas[1] * d1[n] + betas[0] * d2[n] for n, p in model.named_parameters()
    }
    shifted.load_state_dict(state)
    with torch.no_grad():
        expected = nn.functional.cross_entropy(shifted(x), y).item()
    assert plane[0, 1] == pytest.approx(expected, rel=1e-5)


def test_zero_directions_give_a_flat_grid_and_leave_the_model_alone():
    model, (x, y) = small_mlp(True), toy_data()
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    zeros = {n: torch.zeros_like(p) for n, p in model.named_parameters()}
    plane = loss_plane(model, x, y, zeros, zeros, grid_coordinates(2.0, 7))
    assert np.ptp(plane) == 0.0
    for n, p in model.named_parameters():
        assert torch.equal(p, before[n])
    assert model.training  # the training/eval mode is restored


def test_loss_line_is_the_planes_middle_row():
    model, (x, y) = small_mlp(False), toy_data()
    d1, d2 = filter_normalized_direction(model, 1), filter_normalized_direction(model, 2)
    coords = grid_coordinates(1.0, 5)
    line = loss_line(model, x, y, d1, coords)
    plane = loss_plane(model, x, y, d1, d2, coords)
    assert np.allclose(line, plane[2], rtol=1e-6)


def test_grid_coordinates_are_symmetric_and_hit_zero_exactly():
    coords = grid_coordinates(1.0, 21)
    assert coords[0] == -1.0 and coords[-1] == 1.0 and coords[10] == 0.0
    assert np.allclose(coords, -coords[::-1])


def test_loss_rise_on_a_hand_made_plane():
    coords = [-1.0, -0.5, 0.0, 0.5, 1.0]
    plane = np.zeros((5, 5))
    plane[2, 2] = 1.0
    plane[2, 1], plane[2, 3], plane[1, 2], plane[3, 2] = 2.0, 3.0, 4.0, 5.0
    assert loss_rise(plane, coords, 0.5) == pytest.approx((2 + 3 + 4 + 5) / 4 - 1)


@pytest.mark.parametrize("steps", [0, 1])
def test_grid_with_fewer_than_two_points_is_rejected(steps):
    with pytest.raises(ValueError, match="steps"):
        grid_coordinates(1.0, steps)
    model, (x, y) = small_mlp(False), toy_data()
    d = filter_normalized_direction(model)
    with pytest.raises(ValueError, match="at least 2 points"):
        loss_plane(model, x, y, d, d, [0.0] * steps)


def test_mismatched_direction_shapes_are_rejected():
    model, (x, y) = small_mlp(False), toy_data()
    d = filter_normalized_direction(model)
    bad = dict(d)
    bad["layers.0.0.weight"] = torch.zeros(3, 6)
    with pytest.raises(
        ValueError, match=r"has shape \(3, 6\) but the parameter has shape \(6, 6\)"
    ):
        loss_plane(model, x, y, d, bad, [-1.0, 1.0])
    with pytest.raises(ValueError, match="has shape"):
        filter_normalize(bad, model)


def test_direction_of_another_model_is_rejected():
    model, (x, y) = small_mlp(False), toy_data()
    other = filter_normalized_direction(small_cnn())
    with pytest.raises(ValueError, match="does not match the model's parameters"):
        loss_plane(model, x, y, other, other, [-1.0, 1.0])
