"""Protects gradflow.experiments.vanishing_gradients, gradflow.mlp.build_mlp and the measurements of the vanishing-gradients lesson.

The gradient profile is checked on chains of scalar linear layers, whose gradients are powers of the
weight derived by hand; the initialisation schemes against the standard deviations of Glorot & Bengio
(2010) and He et al. (2015); the digits split for determinism; the summaries over seeds against
medians worked out by hand; the weight-scale explorer by reading its drawn paths back through its
axes, with a caption worked out by hand; and bad input for clear errors.
"""

import gzip
import math

import pytest
import torch
from torch import nn

from gradflow import explorer as gx
from gradflow.data import load_digits
from gradflow.experiments.vanishing_gradients import (
    INIT_SWEEP,
    SCALES,
    SeedRun,
    default_weight_scale,
    depth_profiles,
    digits_batch,
    first_to_last,
    forward_spread,
    init_sweep,
    last_input_spread,
    per_layer_factor,
    scale_sweep,
    summarise_runs,
    train_seeds,
    weight_gradient_norms,
)
from gradflow.gradients import gradient_profile, weight_matrices
from gradflow.init import init_weights
from gradflow.mlp import build_mlp
from gradflow.plots.vanishing_gradients import (
    plot_depth_profiles,
    plot_init_sweep,
    plot_training,
    scale_explorer,
)
from gradflow.train import History, train_classifier
from svg_paths import points, top_of


def scalar_chain(weights: list[float]) -> nn.Sequential:
    """A chain of 1x1 linear layers without bias: y = w_n ... w_2 w_1 x."""
    layers = [nn.Linear(1, 1, bias=False, dtype=torch.float64) for _ in weights]
    with torch.no_grad():
        for layer, w in zip(layers, weights, strict=True):
            layer.weight.fill_(w)
    return nn.Sequential(*layers)


@pytest.mark.parametrize("w", [0.5, 0.9, 1.5, -0.8])
@pytest.mark.parametrize("n", [1, 3, 8])
def test_scalar_chain_gradients_are_powers_of_w(w, n):
    # x = 1, target 0, L = (w^n)^2, so dL/dw_k = 2 w^n * w^(n-1) = 2 w^(2n-1) for every layer k
    x = torch.ones(1, 1, dtype=torch.float64)
    profile = gradient_profile(
        scalar_chain([w] * n), x, torch.zeros(1, 1, dtype=torch.float64), statistic="norm"
    )
    assert profile == pytest.approx([abs(2 * w ** (2 * n - 1))] * n, rel=1e-12)


def test_scalar_chain_profile_is_in_layer_order():
    # distinct weights: dL/dw_k = 2 P^2 / w_k with P = w_1 w_2 ... w_n
    weights = [0.5, 2.0, 4.0, 0.25, 3.0]
    p = math.prod(weights)
    x = torch.ones(1, 1, dtype=torch.float64)
    profile = gradient_profile(
        scalar_chain(weights), x, torch.zeros(1, 1, dtype=torch.float64), statistic="norm"
    )
    assert profile == pytest.approx([2 * p * p / w for w in weights], rel=1e-12)


@pytest.mark.parametrize("depth", [1, 2, 7])
def test_build_mlp_has_depth_weight_matrices(depth):
    model = build_mlp(depth, width=16, activation="tanh", in_features=64, out_features=10)
    shapes = [tuple(w.shape) for _, w in weight_matrices(model)]
    expected = [(16, 64)] + [(16, 16)] * (depth - 2) + [(10, 16)] if depth > 1 else [(10, 64)]
    assert shapes == expected
    assert not model.use_shortcut
    assert model(torch.zeros(3, 64)).shape == (3, 10)


def test_build_mlp_is_seeded():
    a, b = build_mlp(3, seed=4), build_mlp(3, seed=4)
    for (_, wa), (_, wb) in zip(weight_matrices(a), weight_matrices(b), strict=True):
        torch.testing.assert_close(wa, wb)


def test_weight_gradient_norm_of_softmax_regression_by_hand(digits):
    # One Linear layer under mean cross-entropy is softmax regression, whose weight gradient is
    # derived by hand: dL/dW = (softmax(W x + b) - onehot(y))^T x / N.
    x, y = digits_batch(digits, 32)
    model = build_mlp(1, activation="relu")  # depth = number of Linear layers: just one
    (layer,) = [m for m in model.modules() if isinstance(m, nn.Linear)]
    x64 = x.double()
    with torch.no_grad():
        p = torch.softmax(x64 @ layer.weight.double().T + layer.bias.double(), dim=1)
    by_hand = ((p - nn.functional.one_hot(y, 10).double()).T @ x64 / len(y)).norm().item()
    (norm,) = weight_gradient_norms(model, x, y)
    assert norm == pytest.approx(by_hand, rel=1e-10)


def test_float64_keeps_what_float32_cannot_hold(digits):
    # a 50-layer sigmoid network's first-layer gradient is far below float32's smallest normal number
    x, y = digits_batch(digits, 64)
    in_64 = weight_gradient_norms(build_mlp(50, activation="sigmoid"), x, y)
    model = build_mlp(50, activation="sigmoid")
    in_32 = weight_gradient_norms(model, x, y, dtype=torch.float32)
    assert 0.0 < in_64[0] < torch.finfo(torch.float32).tiny
    # float32 keeps at most subnormals of it, and an SGD step cannot move a weight by that much
    w = model.layers[0][0].weight
    assert in_32[0] < torch.finfo(torch.float32).tiny
    assert torch.equal(w - 0.1 * w.grad, w)


def test_sigmoid_ratio_shrinks_with_depth(digits):
    x, y = digits_batch(digits, 64)
    profiles = depth_profiles("sigmoid", [2, 4, 8], x, y, width=16)
    ratios = [first_to_last(p) for p in profiles.values()]
    assert ratios[0] > ratios[1] > ratios[2]


@pytest.mark.parametrize(
    ("scheme", "std"),
    [
        ("xavier", math.sqrt(2 / (300 + 500))),  # Glorot & Bengio (2010), eq. 16's variance
        ("he", math.sqrt(2 / 300)),  # He et al. (2015), eq. 10: Var = 2 / fan_in
        (0.5, 0.5 / math.sqrt(300)),  # the sweep's "too small"
        (3.0, 3.0 / math.sqrt(300)),  # the sweep's "too large"
    ],
)
def test_init_scheme_standard_deviation(scheme, std):
    layer = nn.Linear(300, 500)  # weight (500, 300): fan_in 300, fan_out 500
    init_weights(layer, scheme)
    assert layer.weight.std().item() == pytest.approx(std, rel=0.02)


def test_default_scale_is_one_over_root_three():
    # nn.Linear draws U(-1/sqrt(n), 1/sqrt(n)), whose standard deviation is 1/sqrt(3n)
    assert default_weight_scale(64) == pytest.approx(1 / math.sqrt(3), rel=0.01)


def test_init_sweep_returns_every_scheme(digits):
    x, y = digits_batch(digits, 32)
    sweep = init_sweep("tanh", x, y, depth=3, width=8)
    assert list(sweep) == list(INIT_SWEEP)
    assert all(len(p) == 3 for p in sweep.values())


def test_digits_split_is_deterministic():
    a, b, c = load_digits(seed=0), load_digits(seed=0), load_digits(seed=1)
    for field in ("x_train", "y_train", "x_test", "y_test"):
        torch.testing.assert_close(getattr(a, field), getattr(b, field))
    assert not torch.equal(a.y_test, c.y_test)
    assert a.x_test.shape[0] == round(0.25 * 1797)
    assert a.x_train.shape[0] + a.x_test.shape[0] == 1797


def test_digits_batch_is_the_first_training_digits(digits):
    x, y = digits_batch(digits, 10)
    torch.testing.assert_close(x, digits.x_train[:10])
    torch.testing.assert_close(y, digits.y_train[:10])


@pytest.mark.parametrize("depth", [0, -3])
def test_depth_below_one_raises(depth):
    with pytest.raises(ValueError, match="n_linear must be >= 1"):
        build_mlp(depth)


def test_non_integer_depth_raises():
    with pytest.raises(TypeError, match="n_linear must be an int"):
        build_mlp(2.5)


def test_unknown_activation_raises(digits):
    x, y = digits_batch(digits, 8)
    with pytest.raises(ValueError, match="unknown activation 'softplus'"):
        build_mlp(3, activation="softplus")
    with pytest.raises(ValueError, match="unknown activation 'softplus'"):
        depth_profiles("softplus", [3], x, y)


def test_empty_batch_raises():
    empty_x, empty_y = torch.empty(0, 64), torch.empty(0, dtype=torch.long)
    with pytest.raises(ValueError, match="x is empty"):
        weight_gradient_norms(build_mlp(3), empty_x, empty_y)
    with pytest.raises(ValueError, match="x is empty"):
        depth_profiles("relu", [3], empty_x, empty_y)


def test_empty_depths_and_unknown_scheme_raise(digits):
    x, y = digits_batch(digits, 8)
    with pytest.raises(ValueError, match="depths is empty"):
        depth_profiles("relu", [], x, y)
    with pytest.raises(ValueError, match="unknown init scheme 'orthogonal'"):
        init_weights(build_mlp(2), "orthogonal")


def test_first_to_last_errors():
    assert first_to_last([2.0, 8.0]) == 0.25
    with pytest.raises(ValueError, match="profile is empty"):
        first_to_last([])
    with pytest.raises(ValueError, match="last layer's gradient is zero"):
        first_to_last([1.0, 0.0])


@pytest.mark.parametrize("w", [0.25, 1.0, 3.0])
def test_per_layer_factor_of_a_geometric_profile(w):
    # a profile w^(n-1), ..., w, 1 (input first) shrinks by w per layer towards the input
    profile = [w**k for k in range(6, -1, -1)]
    assert per_layer_factor(profile) == pytest.approx(w)
    with pytest.raises(ValueError, match="at least two layers"):
        per_layer_factor([1.0])


def test_digits_batch_too_large_raises(digits):
    with pytest.raises(ValueError, match="exceeds"):
        digits_batch(digits, 10_000)


def test_plots_draw_one_line_per_series(digits):
    x, y = digits_batch(digits, 16)
    profiles = {a: depth_profiles(a, [2, 3], x, y, width=8) for a in ("sigmoid", "tanh")}
    fig = plot_depth_profiles(profiles)
    assert [len(ax.get_lines()) for ax in fig.axes if ax.get_visible()] == [2, 2]
    fig = plot_init_sweep({"relu": init_sweep("relu", x, y, depth=3, width=8)})
    assert len(fig.axes[0].get_lines()) == len(INIT_SWEEP)


def test_plot_training_checks_its_arguments(digits):
    history = train_classifier(build_mlp(3, width=8), digits, steps=4, record_every=2)
    fig = plot_training({"d3": history}, "d3", [1, 3])
    assert len(fig.axes[1].get_lines()) == 2
    with pytest.raises(ValueError, match="deep must be one of the runs"):
        plot_training({"d3": history}, "d10", [1])
    with pytest.raises(ValueError, match="layer 4 is out of range"):
        plot_training({"d3": history}, "d3", [4])


def test_init_sweep_needs_a_known_scheme(digits):
    x, y = digits_batch(digits, 8)
    with pytest.raises(ValueError, match="schemes is empty"):
        init_sweep("tanh", x, y, depth=3, schemes=[])
    with pytest.raises(ValueError, match="unknown scheme 'orthogonal'"):
        init_sweep("tanh", x, y, depth=3, schemes=["orthogonal"])


@pytest.mark.parametrize("depths", [[1], [2, 5, 9]])
def test_depth_profiles_has_one_norm_per_layer(digits, depths):
    x, y = digits_batch(digits, 16)
    profiles = depth_profiles("tanh", depths, x, y, width=8)
    assert {d: len(p) for d, p in profiles.items()} == {d: d for d in depths}


def test_summarise_runs_by_hand():
    # two layers, two records per run; the numbers are chosen so that every median is easy by hand
    def run(loss, acc, updates, spreads):
        history = History(
            steps=[0, 10], train_loss=loss, test_accuracy=acc, relative_update=updates
        )
        return SeedRun(history, *spreads)

    runs = {
        0: run([2.0, 1.0], [0.1, 0.6], [[0.1, 1.0], [0.3, 1.0]], (1.0, 2.0)),  # mean update 0.2, 1
        1: run([2.2, 0.5], [0.1, 0.9], [[0.5, 2.0], [0.5, 2.0]], (3.0, 4.0)),  # 0.5, 2
        2: run([2.1, 0.7], [0.1, 0.8], [[1.0, 1.0], [1.0, 3.0]], (5.0, 6.0)),  # 1, 2
    }
    summary = summarise_runs(runs)
    assert summary["loss_start"] == pytest.approx((2.1, 2.0, 2.2))
    assert summary["loss_end"] == pytest.approx((0.7, 0.5, 1.0))
    assert summary["accuracy"] == pytest.approx((0.8, 0.6, 0.9))
    assert summary["update_first"] == pytest.approx((0.5, 0.2, 1.0))
    assert summary["update_last"] == pytest.approx((2.0, 1.0, 2.0))
    assert summary["update_span"] == pytest.approx((4.0, 2.0, 5.0))  # 1 / 0.2, 2 / 0.5, 2 / 1
    assert summary["spread_init"] == pytest.approx((3.0, 1.0, 5.0))
    assert summary["spread_trained"] == pytest.approx((4.0, 2.0, 6.0))
    with pytest.raises(ValueError, match="runs is empty"):
        summarise_runs({})


def test_train_seeds_trains_each_seed_as_train_classifier_does(digits):
    x, _ = digits_batch(digits, 32)
    runs = train_seeds("sigmoid", 3, digits, x, seeds=[0, 1], width=8, steps=6, record_every=3)
    assert list(runs) == [0, 1]
    model = build_mlp(3, width=8, activation="sigmoid", seed=1)
    spread_init = last_input_spread(model, x)
    history = train_classifier(
        model, digits, steps=6, lr=0.1, batch_size=64, seed=1, record_every=3
    )
    assert runs[1].history == history
    assert runs[1].spread_init == spread_init
    assert runs[1].spread_trained == last_input_spread(model, x)
    assert runs[0].history.train_loss != runs[1].history.train_loss  # another seed, another run
    with pytest.raises(ValueError, match="seeds is empty"):
        train_seeds("sigmoid", 3, digits, x, seeds=[])


def test_forward_spread_by_hand():
    torch.manual_seed(0)
    model = build_mlp(3, 5, 4, 2, activation="sigmoid").double()
    x = torch.randn(7, 4, dtype=torch.float64)
    got = forward_spread(model, x)
    h, spread, predicted = x, [x.std(dim=0).mean().item()], []
    for layer in model.layers[:-1]:
        w, b = layer[0].weight, layer[0].bias
        a = h @ w.T + b
        slope = torch.sigmoid(a) * (1 - torch.sigmoid(a))  # the sigmoid's derivative by hand
        predicted.append(
            w.norm().item() / math.sqrt(w.shape[0]) * slope.pow(2).mean().sqrt().item()
        )
        h = torch.sigmoid(a)
        spread.append(h.std(dim=0).mean().item())
    assert got["spread"] == pytest.approx(spread, rel=1e-10)
    assert got["predicted"] == pytest.approx(predicted, rel=1e-10)


# -- the weight-scale explorer ----------------------------------------------------------------------
def test_scale_sweep_draws_the_init_sweeps_numeric_scales(digits):
    # the sweep's "too small" and "too large" are c = 0.5 and c = 3: the same networks, redrawn alike
    x, y = digits_batch(digits, 32)
    by_scale = scale_sweep("tanh", x, y, scales=(0.5, 3.0), depth=4, width=8, seed=2)
    by_scheme = init_sweep(
        "tanh", x, y, depth=4, width=8, schemes=("too small", "too large"), seed=2
    )
    assert by_scale[0.5] == by_scheme["too small"] and by_scale[3.0] == by_scheme["too large"]
    assert [len(p) for p in by_scale.values()] == [4, 4]
    with pytest.raises(ValueError, match="scales is empty"):
        scale_sweep("tanh", x, y, scales=())
    with pytest.raises(ValueError):
        scale_sweep("tanh", x, y, scales=(0.0,), depth=3, width=8)


def geometric(first: float, factor: float, depth: int) -> list[float]:
    """A profile whose gradient is multiplied by ``factor`` at each layer up from ``first``."""
    return [first * factor**k for k in range(depth)]


def tiny_sweeps(depth: int = 5, scales=(0.5, 1.0, 2.0)) -> tuple[dict, dict]:
    """Profiles that fall towards the input for c < 1 and rise for c > 1, and a default one."""
    sweeps = {
        act: {c: geometric(gain * c ** (1 - depth), c, depth) for c in scales}
        for act, gain in (("tanh", 1.0), ("relu", 1e3))
    }
    return sweeps, {act: geometric(1e-6, 10.0, depth) for act in sweeps}


def test_scale_explorer_carries_every_profile():
    sweeps, default = tiny_sweeps()
    explorer = scale_explorer(sweeps, default)
    data, top = explorer.data(), top_of(explorer)
    assert explorer.controls[0].values == [0.5, 1.0, 2.0]
    assert explorer.controls[0].texts == ["c = 0.5", "c = 1 (Xavier)", "c = 2"]
    assert explorer.controls[1].texts == ["tanh", "ReLU"]
    for i, c in enumerate((0.5, 1.0, 2.0)):
        for j, act in enumerate(("tanh", "relu")):
            caption, parts = data["states"][i][j]
            _, xaxis, yaxis, _ = explorer.views[(c, act)]
            # one axis for every state: whole decades that hold every value
            assert (yaxis.lo, yaxis.hi) == pytest.approx((1e-6, 1e5))
            assert caption.startswith(f"{explorer.controls[1].texts[j]}, c = ")
            # eleven decades over about 240 units, points rounded to 0.1 unit: within 1 %
            for k, values in ((2, sweeps[act][c]), (3, default[act])):
                drawn = points(data["pool"][parts[k]], xaxis, yaxis, top)
                assert [y for _, y in drawn] == pytest.approx(values, rel=1e-2)


def test_every_control_changes_drawing_and_caption_from_every_state():
    sweeps, default = tiny_sweeps()
    states = scale_explorer(sweeps, default).data()["states"]  # [scale][activation]
    for i, row in enumerate(states):
        for j, (caption, parts) in enumerate(row):
            neighbours = [states[k][j] for k in (i - 1, i + 1) if 0 <= k < len(states)]
            neighbours += [row[k] for k in (j - 1, j + 1) if 0 <= k < len(row)]
            for other_caption, other_parts in neighbours:
                assert other_caption != caption and other_parts != parts


def test_scale_explorer_caption_by_hand():
    # c = sqrt(2), three layers, 0.01, 0.1, 1: the gradient is multiplied by 0.1 per layer down and
    # the first layer's is 0.01 times the last's; the default's first layer is 10^-6
    explorer = scale_explorer(
        {"relu": {math.sqrt(2): [0.01, 0.1, 1.0]}}, {"relu": [1e-6, 1e-3, 1.0]}
    )
    assert repr(explorer) == (
        "ReLU, c = √2 ≈ 1.41 (He), 3 layers: each step towards the input multiplies the gradient "
        "by 0.100 on average; the first layer's, 0.0100, is 0.0100 times the last layer's "
        "(default weights, dashed: 1.00 × 10⁻⁶)."
    )


def test_scale_explorer_first_state_and_budget():
    depth = 50
    sweeps = {
        act: {c: geometric(1e-3 * c**depth, 0.9 + 0.1 * c, depth) for c in SCALES}
        for act in ("tanh", "relu", "gelu")
    }
    default = {act: geometric(1e-20, 2.0, depth) for act in sweeps}
    explorer = scale_explorer(sweeps, default, scale=math.sqrt(2), activation="relu")
    assert explorer.caption().startswith("ReLU, c = √2 ≈ 1.41 (He), 50 layers")
    assert len(explorer.data()["states"]) == len(SCALES)
    html = explorer._repr_html_()
    assert 'aria-valuetext="c = √2 ≈ 1.41 (He)"' in html
    shared = b"".join(gx.asset(name).read_bytes() for name in gx.ASSETS)
    weight = len(gzip.compress(html.encode())) + len(gzip.compress(shared))
    assert weight <= 30_000, f"the weight-scale explorer adds {weight} bytes gzipped"


@pytest.mark.parametrize(
    "change, error",
    [
        (lambda s, d: ({}, {}), TypeError),
        (lambda s, d: (s, {"tanh": d["tanh"]}), ValueError),  # no default for relu
        (lambda s, d: ({**s, "relu": {0.5: s["relu"][0.5]}}, d), ValueError),  # other scales
        (lambda s, d: ({**s, "tanh": {**s["tanh"], 1.0: [1.0, 1.0]}}, d), ValueError),  # ragged
        (lambda s, d: ({**s, "tanh": {**s["tanh"], 1.0: [0.0] * 5}}, d), ValueError),  # zero
        (lambda s, d: ({**s, "tanh": {**s["tanh"], 1.0: [math.nan] * 5}}, d), ValueError),
    ],
)  # fmt: skip
def test_scale_explorer_rejects_bad_input(change, error):
    with pytest.raises(error):
        scale_explorer(*change(*tiny_sweeps()))


def test_scale_explorer_rejects_an_unknown_start():
    with pytest.raises(ValueError, match="start"):
        scale_explorer(*tiny_sweeps(), scale=1.5)
    with pytest.raises(ValueError, match="start"):
        scale_explorer(*tiny_sweeps(), activation="sigmoid")


def test_scale_explorer_labels_two_ticks_on_a_short_axis():
    # values within one decade: the axis still labels at least two decades
    explorer = scale_explorer({"tanh": {1.0: [0.2, 0.5, 0.9]}}, {"tanh": [0.3, 0.4, 0.5]})
    yaxis = explorer.views[(1.0, "tanh")][2]
    assert len(yaxis.ticks) >= 2 and yaxis.lo <= 0.2 and yaxis.hi >= 0.9
