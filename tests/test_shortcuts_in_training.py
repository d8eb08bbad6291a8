"""Protects gradflow.experiments.shortcuts_in_training and gradflow.mlp.ScaledShortcutMLP: the branch-scaled residual network computes
``x + scale * relu(W x + b)`` (checked by hand and against the book's ShortcutMLP),
the depth sweep measures the gradient that
autograd gives, training is deterministic for a fixed seed, the cheap sharpness summary equals the
one read off a whole loss plane, folding the branch scale into the weights leaves the
filter-normalised landscape as it was, the control without the factor starts as the scaled
network's function with its factor moved into the weights by hand, the stream's mean squares equal a
block loop written out, the loss along a line through each network is at its centre the loss that
training recorded at its first and last step, the landscape explorer draws every line it was given (read back
through its axes) under a caption written out by hand, and bad input raises a clear error."""

import copy
import gzip
import math
from dataclasses import replace

import numpy as np
import pytest
import torch
from bs4 import BeautifulSoup
from torch import nn

from gradflow import explorer as gx
from gradflow.experiments.shortcuts_in_training import (
    DegradationConfig,
    degradation_experiment,
    depth_sweep,
    final_metrics,
    loss_lines,
    sharpness,
    stream_mean_squares,
    unscaled_control,
)
from gradflow.landscape import filter_normalized_direction, grid_coordinates, loss_plane, loss_rise
from gradflow.mlp import NetSpec, ScaledShortcutMLP, ShortcutMLP, build_network, fold_branch_scale
from gradflow.plots.shortcuts_in_training import landscape_explorer
from gradflow.train import train_classifier
from svg_paths import read_path, rounding, states, top_of  # an SVG path read back in data units


def test_branch_scale_one_is_the_books_shortcut_mlp():
    torch.manual_seed(0)
    book = ShortcutMLP([5, 5, 5, 2], use_shortcut=True, activation="relu", last_activation=False)
    ours = ScaledShortcutMLP([5, 5, 5, 2], use_shortcut=True, branch_scale=1.0)
    ours.load_state_dict(book.state_dict())
    x = torch.randn(4, 5)
    assert torch.allclose(ours(x), book(x))


@pytest.mark.parametrize("scale", [0.25, 1.0, 3.0])
def test_scaled_block_by_hand(scale):
    torch.manual_seed(0)
    model = ScaledShortcutMLP([4, 4], use_shortcut=True, last_activation=True, branch_scale=scale)
    x = torch.randn(3, 4)
    lin = model.layers[0][0]
    expected = x + scale * torch.relu(x @ lin.weight.T + lin.bias)
    assert torch.allclose(model(x), expected, atol=1e-6)


@pytest.mark.parametrize("use_shortcut", [False, True])
def test_build_network_shape_shortcuts_and_seed(use_shortcut):
    spec = NetSpec(depth=5, use_shortcut=use_shortcut, init="he", scale_branches=True)
    a, b = build_network(spec, seed=3), build_network(spec, seed=3)
    assert len(a.layers) == 6  # 5 hidden layers + the output layer
    assert [a.has_shortcut(i) for i in range(6)] == [use_shortcut] * 5 + [False]
    assert a.branch_scale == pytest.approx(1 / math.sqrt(5))  # used only where shortcuts are
    for pa, pb in zip(a.parameters(), b.parameters(), strict=True):
        assert torch.equal(pa, pb)
    assert a(torch.zeros(2, 64)).shape == (2, 10)


@pytest.mark.parametrize("use_shortcut", [False, True])
def test_depth_sweep_matches_autograd(digits, use_shortcut):
    x, y = digits.x_train[:32], digits.y_train[:32]
    spec = NetSpec(depth=1, use_shortcut=use_shortcut)
    result = depth_sweep(spec, [3], x, y, seeds=[7])
    model = build_network(NetSpec(depth=3, use_shortcut=use_shortcut), seed=7)
    w1 = model.layers[0][0].weight
    (grad,) = torch.autograd.grad(nn.functional.cross_entropy(model(x), y), w1)
    assert result.first_grad_norm == [pytest.approx(torch.linalg.norm(grad).item(), rel=1e-5)]
    h = x
    for layer in model.layers[:-1]:
        h = h + layer(h) if use_shortcut else layer(h)
    assert result.hidden_rms == [pytest.approx(h.pow(2).mean().sqrt().item(), rel=1e-5)]


def test_training_is_deterministic_for_a_fixed_seed(digits):
    config = DegradationConfig(shallow=1, deep=2, steps=20, record_every=10, seeds=(4,))
    first, second = degradation_experiment(config, digits), degradation_experiment(config, digits)
    assert list(first) == ["plain, 1 layers", "plain, 2 layers", "residual, 1 layers",
                           "residual, 2 layers"]  # fmt: skip
    for label in first:
        h1, h2 = first[label][0].history, second[label][0].history
        assert h1.steps == [0, 10, 20]
        assert h1.train_loss == h2.train_loss and h1.test_accuracy == h2.test_accuracy
        assert h1.train_loss[-1] < h1.train_loss[0]  # and it does learn something


def test_shortcuts_selects_the_families(digits):
    config = DegradationConfig(shallow=1, deep=2, steps=2, record_every=2, seeds=(0,))
    plain = degradation_experiment(replace(config, shortcuts=(False,)), digits)
    assert list(plain) == ["plain, 1 layers", "plain, 2 layers"]


def test_final_metrics_by_hand(digits):
    config = DegradationConfig(shallow=1, deep=2, steps=5, record_every=5, seeds=(0, 1))
    runs = degradation_experiment(config, digits)["plain, 1 layers"]
    losses = [r.history.train_loss[-1] for r in runs]
    m = final_metrics(runs)
    assert m["loss"].median == pytest.approx(sum(losses) / 2)  # the median of two is their mean
    assert m["loss"].low == min(losses) and m["loss"].high == max(losses)
    accuracy = [r.history.test_accuracy[-1] for r in runs]
    assert m["accuracy"] == (sum(accuracy) / 2, min(accuracy), max(accuracy))


def test_a_diverged_run_counts_as_an_infinite_loss(digits):
    config = DegradationConfig(shallow=1, deep=2, steps=2, record_every=2, seeds=(0, 1, 2))
    runs = degradation_experiment(config, digits)["plain, 1 layers"]
    runs[1].history.train_loss[-1] = float("nan")
    m = final_metrics(runs)
    assert m["loss"].high == math.inf and math.isfinite(m["loss"].median)
    assert m["loss"].median == max(r.history.train_loss[-1] for r in (runs[0], runs[2]))


@pytest.mark.parametrize("use_shortcut", [False, True])
def test_sharpness_equals_the_rise_read_off_the_whole_plane(digits, use_shortcut):
    model = build_network(NetSpec(depth=3, use_shortcut=use_shortcut, init="he"), seed=5)
    coords = grid_coordinates(1.0, 9)  # -1, -0.75, ..., 1
    d1, d2 = filter_normalized_direction(model, 1), filter_normalized_direction(model, 2)
    plane = loss_plane(model, digits.x_train, digits.y_train, d1, d2, coords)
    s = sharpness(model, digits, distances=(0.5, 1.0), direction_seeds=(1, 2))
    assert s.centre == pytest.approx(plane[4, 4], rel=1e-6)
    for d in (0.5, 1.0):
        assert s.rise[d] == pytest.approx(loss_rise(plane, coords, d), rel=1e-5)
    on_axes = [0, 2, 4, 6, 8]  # -1, -0.5, 0, 0.5, 1: the points sharpness evaluates
    cross = np.concatenate([plane[4, on_axes], plane[on_axes, 4]])
    assert s.lowest_at_centre == bool(cross.min() >= plane[4, 4])


def test_folding_the_branch_scale_leaves_the_landscape_as_it_was(digits):
    model = build_network(NetSpec(depth=4, use_shortcut=True, init="he", scale_branches=True), 0)
    folded = fold_branch_scale(model)
    assert folded.branch_scale == 1.0 and model.branch_scale == pytest.approx(0.5)
    x, y = digits.x_train[:200], digits.y_train[:200]
    coords = grid_coordinates(1.0, 5)
    planes = [
        loss_plane(m, x, y, filter_normalized_direction(m, 1), filter_normalized_direction(m, 2), coords)
        for m in (model, folded)
    ]  # fmt: skip
    assert np.allclose(planes[0], planes[1], rtol=1e-4)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"depth": 0}, "depth must be >= 1"),
        ({"depth": 3, "init": "orthogonal"}, "unknown init 'orthogonal'"),
        ({"depth": 3, "width": 0}, "width must be >= 1"),
    ],
)
def test_bad_spec_is_rejected(kwargs, match):
    with pytest.raises(ValueError, match=match):
        NetSpec(**kwargs)


def test_bad_branch_scale_and_inputs_are_rejected(digits):
    with pytest.raises(ValueError, match="branch_scale must be a positive number"):
        ScaledShortcutMLP([4, 4], use_shortcut=True, branch_scale=0.0)
    with pytest.raises(TypeError, match="config must be a DegradationConfig"):
        degradation_experiment({"deep": 3}, digits)
    with pytest.raises(ValueError, match="at least one depth"):
        depth_sweep(NetSpec(depth=1), [], digits.x_train[:4], digits.y_train[:4])


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"seeds": ()}, ValueError, "seeds is empty"),
        ({"deep": 0}, ValueError, "depth must be >= 1"),
        ({"init": "orthogonal"}, ValueError, "unknown init 'orthogonal'"),
        ({"shortcuts": ()}, ValueError, "shortcuts must be False, True or both"),
    ],
)
def test_degradation_config_rejects_bad_settings(kwargs, error, message):
    with pytest.raises(error, match=message):
        DegradationConfig(**kwargs)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"optimizer": "lbfgs"}, "unknown optimizer 'lbfgs'"),
        ({"lr": -1.0}, "lr must be a positive number"),
        ({"lr": float("nan")}, "lr must be a positive number"),
    ],
)
def test_bad_training_settings_are_refused_before_a_step(digits, kwargs, message):
    with pytest.raises(ValueError, match=message):  # by the training loop, train_classifier
        degradation_experiment(DegradationConfig(**kwargs), digits)


def test_unscaled_control_is_the_scaled_network_folded_by_hand_and_trained(digits):
    config = DegradationConfig(shallow=1, deep=4, steps=6, record_every=3, seeds=(2,), lr=0.01)
    (run,) = unscaled_control(config, digits)
    scaled = build_network(NetSpec(depth=4, use_shortcut=True, init="he", scale_branches=True), 2)
    by_hand = ScaledShortcutMLP([64] * 5 + [10], use_shortcut=True, last_activation=False)
    by_hand.load_state_dict(scaled.state_dict())
    with torch.no_grad():
        for layer in by_hand.layers[:4]:  # the four blocks: weights and biases times 1 / sqrt(4)
            layer[0].weight.mul_(0.5)
            layer[0].bias.mul_(0.5)
    assert by_hand.branch_scale == 1.0 and run.model.branch_scale == 1.0
    x, y = digits.x_train, digits.y_train
    with torch.no_grad():  # the same function at the start: the scaled network's loss
        start = nn.functional.cross_entropy(scaled(x), y).item()
    assert run.history.train_loss[0] == pytest.approx(start, rel=1e-5)
    train_classifier(by_hand, digits, steps=6, lr=0.01, batch_size=64, optimizer="sgd", seed=2,
                     record_every=3)  # fmt: skip
    for pa, pb in zip(run.model.parameters(), by_hand.parameters(), strict=True):
        assert torch.allclose(pa, pb, atol=1e-6)


@pytest.mark.parametrize("scale", [1.0, 0.5])
def test_stream_mean_squares_equal_a_block_loop(scale):
    torch.manual_seed(0)
    model = ScaledShortcutMLP([6, 6, 6, 6, 3], use_shortcut=True, activation="tanh",
                              last_activation=False, branch_scale=scale)  # fmt: skip
    x = 3 * torch.randn(5, 6)
    got = stream_mean_squares(model, x)
    h, stream, branch = x, [], []
    for layer in model.layers[:3]:
        lin = layer[0]
        added = scale * torch.tanh(h @ lin.weight.T + lin.bias)
        stream.append(h.pow(2).mean().item())
        branch.append(added.pow(2).mean().item())
        h = h + added
    stream.append(h.pow(2).mean().item())
    assert got["stream"] == pytest.approx(stream, rel=1e-5)
    assert got["branch"] == pytest.approx(branch, rel=1e-5)
    assert max(got["branch"]) <= scale**2  # a tanh branch adds a mean square of at most scale**2


def test_control_and_stream_reject_bad_input(digits):
    with pytest.raises(TypeError, match="config must be a DegradationConfig"):
        unscaled_control({"deep": 3}, digits)
    plain = build_network(NetSpec(depth=3), seed=0)
    with pytest.raises(ValueError, match="every hidden layer of the model needs a shortcut"):
        stream_mean_squares(plain, digits.x_train[:4])
    with pytest.raises(TypeError, match="model must be a ScaledShortcutMLP"):
        stream_mean_squares(nn.Linear(64, 10), digits.x_train[:4])


# -- the explorer of the loss along a line --------------------------------------------------------
def test_loss_lines_run_through_each_network_before_and_after_training(digits):
    config = DegradationConfig(shallow=1, deep=2, steps=10, record_every=10, seeds=(0, 1))
    runs = degradation_experiment(config, digits)
    coords = grid_coordinates(1.0, 5)  # -1, -0.5, 0, 0.5, 1
    lines = loss_lines(runs, digits, coords, seeds=[1])
    assert set(lines) == {(d, 1, t) for d in (1, 2) for t in (False, True)}
    for rs in runs.values():
        run = rs[1]
        family = "residual" if run.spec.use_shortcut else "plain"
        trained, initial = lines[(run.spec.depth, 1, True)], lines[(run.spec.depth, 1, False)]
        # the centre is the loss the training loop recorded on the training set, at 0 and 10 steps
        assert initial[family][2] == pytest.approx(run.history.train_loss[0], rel=1e-5)
        assert trained[family][2] == pytest.approx(run.history.train_loss[-1], rel=1e-5)
        # a point of the line by hand: a copy of the trained network moved along the direction
        direction = filter_normalized_direction(run.model, 1)
        moved = copy.deepcopy(run.model)
        with torch.no_grad():
            for name, p in moved.named_parameters():
                p.add_(-0.5 * direction[name])
            by_hand = nn.functional.cross_entropy(moved(digits.x_train), digits.y_train).item()
        assert trained[family][1] == pytest.approx(by_hand, rel=1e-5)
        assert not np.allclose(initial[family], trained[family])


def test_loss_lines_reject_bad_input(digits):
    config = DegradationConfig(shallow=1, deep=2, steps=2, record_every=2, seeds=(0,))
    runs = degradation_experiment(config, digits)
    with pytest.raises(ValueError, match="not found: \\[3\\]"):
        loss_lines(runs, digits, [-1, 0, 1], seeds=[0, 3])
    with pytest.raises(ValueError, match="seeds"):
        loss_lines(runs, digits, [-1, 0, 1], seeds=[])
    with pytest.raises(TypeError, match="runs"):
        loss_lines({}, digits, [-1, 0, 1], seeds=[0])
    with pytest.raises(TypeError, match="Digits"):
        loss_lines(runs, (digits.x_train, digits.y_train), [-1, 0, 1], seeds=[0])


COORDS = [-1.0, -0.5, 0.0, 0.5, 1.0]


def tiny_lines() -> dict:
    """Two depths, two seeds, before and after training: every value different."""
    return {
        (d, s, t): {
            "plain": [(d + s + 1) * (1 + 9 * a * a) * (0.1 if t else 1) for a in COORDS],
            "residual": [(s + 2) * (1 + a * a) * (0.01 if t else 1) / d for a in COORDS],
        }
        for d in (8, 32)
        for s in (0, 1)
        for t in (False, True)
    }


def test_landscape_explorer_carries_every_line():
    lines = tiny_lines()
    explorer = landscape_explorer(COORDS, lines, steps=400)
    data, top = explorer.data(), top_of(explorer)
    assert [c.values for c in explorer.controls] == [[8, 32], [0, 1], [False, True]]
    assert explorer.start == [0, 0, 1]  # the shallow networks, the first seed, trained
    for (i, j, k), (caption, parts) in states(data, 3):
        key = (8, 32)[i], (0, 1)[j], (False, True)[k]
        _, xaxis, yaxis, _ = explorer.views[key]
        assert caption.startswith(f"{key[0]} hidden layers, seed {key[1]}, ")
        for n, family in enumerate(("plain", "residual")):
            (drawn,) = read_path(data["pool"][parts[2 + n]], xaxis, yaxis, top)
            assert [x for x, _ in drawn] == pytest.approx(COORDS, abs=1e-3)
            assert [y for _, y in drawn] == pytest.approx(lines[key][family],
                                                          rel=rounding(yaxis, top))  # fmt: skip
    # one vertical axis for every state, in whole decades, that holds every value
    values = [v for pair in lines.values() for f in pair.values() for v in f]
    axis = explorer.views[(8, 0, True)][2]
    assert all(explorer.views[key][2] == axis for key in lines)
    assert axis.lo <= min(values) and max(values) <= axis.hi


def test_landscape_explorer_caption_by_hand():
    lines = tiny_lines()
    lines[(32, 1, True)] = {
        "plain": [2e4, 3.0, 1.5, 3.0, 4e4],
        "residual": [8.0, 1.0, 0.0723, 1, 12],
    }
    explorer = landscape_explorer(COORDS, lines, steps=400, depth=32, seed=1)
    assert repr(explorer) == (
        "32 hidden layers, seed 1, after 400 training steps: at the weights themselves the loss is "
        "1.50 without shortcuts and 0.0723 with them; at a distance of 1 (the mean of both ends) "
        "it is 3.00 × 10⁴ and 10.0."
    )
    untrained = explorer.data()["states"][1][1][0][0]  # 32 layers, seed 1, at initialisation
    assert untrained.startswith("32 hidden layers, seed 1, at initialisation: at the weights "
                                "themselves the loss is 34.0 without shortcuts")  # fmt: skip


def test_landscape_explorer_is_accessible_and_within_budget():
    coords = list(grid_coordinates(1.0, 21))
    lines = {  # the lesson's size: 2 depths, 3 seeds, before and after training, 21 points
        (d, s, t): {f: list(np.random.default_rng([d, s, t, k]).lognormal(0, 4, 21))
                    for k, f in enumerate(("plain", "residual"))}
        for d in (8, 32) for s in (0, 1, 2) for t in (False, True)
    }  # fmt: skip
    html = landscape_explorer(coords, lines, steps=400)._repr_html_()
    soup = BeautifulSoup(html, "html.parser")
    assert soup.find("select").find_parent("label").get_text(" ", strip=True).startswith("Depth")
    assert soup.find("input", type="range")["aria-valuetext"] == "seed 0"
    assert soup.find("input", type="checkbox").has_attr("checked")
    assert soup.figcaption.get_text().startswith("8 hidden layers, seed 0, after 400 training")
    shared = b"".join(gx.asset(name).read_bytes() for name in gx.ASSETS)
    weight = len(gzip.compress(html.encode())) + len(gzip.compress(shared))
    assert weight <= 30_000, f"the landscape explorer adds {weight} bytes gzipped"


@pytest.mark.parametrize(
    "change, kwargs, error",
    [
        (lambda lines: {}, {}, TypeError),
        (lambda lines: {k: {"plain": v["plain"]} for k, v in lines.items()}, {}, ValueError),
        (lambda lines: {k: v for k, v in lines.items() if k != (32, 1, False)}, {}, ValueError),
        (lambda lines: {**lines, (8, 0, True): {"plain": [1.0] * 5, "residual": [1.0] * 4}}, {},
         ValueError),
        (lambda lines: {**lines, (8, 0, True): {"plain": [math.nan] * 5, "residual": [1.0] * 5}},
         {}, ValueError),
        (lambda lines: lines, {"coords": [-1.0, -0.5, 0.25, 0.5, 1.0]}, ValueError),
        (lambda lines: lines, {"depth": 16}, ValueError),
        (lambda lines: lines, {"seed": 5}, ValueError),
    ],
)  # fmt: skip
def test_landscape_explorer_rejects_bad_input(change, kwargs, error):
    coords = kwargs.pop("coords", COORDS)
    with pytest.raises(error):
        landscape_explorer(coords, change(tiny_lines()), steps=400, **kwargs)
