"""Protects the experiments of the chapter on why residual networks work: the networks of the identity
task start where the text says (the gated one *is* the identity) and the plain network built as the
identity computes ``max(x, -offset)`` (PyTorch's ``clamp``), the path study's totals are the per-path
gradient times the binomial counts and its factor per branch splits into the imposed scale and the
branch's part as derived by hand, the lesion study's accuracies are those of the network with the
block removed by hand, the centred and uncentred correlations agree with cosine similarities computed
by hand, the initialisation experiment's networks differ only in how they start (fixed or learnable
scale, and its starting value), the multi-seed experiments give for every seed what one run with that
seed gives, every seed follows the book-wide offset, and bad input raises a clear error. The paths explorer draws
every study it is given (the share of the paths and of the gradient by length), says each state in a
caption checked by hand, stays within its page budget and refuses bad studies."""

import gzip
import math
import re

import numpy as np
import pytest
import torch
from torch import nn

from gradflow import chart
from gradflow import explorer as gx
from gradflow.data import load_digits
from gradflow.experiments.why_residuals_work import (
    LESION_FAMILIES,
    PATH_FAMILIES,
    SHORT_RUNS,
    IdentityConfig,
    InitExperiment,
    PathStudies,
    PathStudy,
    digit_line,
    first_nonfinite_step,
    identity_experiment,
    identity_networks,
    init_experiment,
    init_networks,
    lagged_correlation,
    lesion_over_seeds,
    lesion_study,
    path_studies,
    path_study,
    plain_identity,
    shatter_sweep,
    train_digit_classifier,
)
from gradflow.mlp import GatedResidualMLP, NetSpec, ScaledShortcutMLP, build_network
from gradflow.paths import input_gradients, path_counts
from gradflow.plots.why_residuals_work import paths_explorer
from gradflow.train import History, evaluate, fit_regression, train_classifier
from svg_paths import points


@pytest.fixture(scope="module")
def digits():
    return load_digits()


def test_identity_networks_shapes_and_the_gated_one_is_the_identity(digits):
    nets = identity_networks(depth=3, seed=0)
    x = digits.x_train[:10]
    for net in nets.values():
        assert net(x).shape == (10, 64)
        assert len(net.layers) == 4  # depth + 1 Linear layers
    assert torch.equal(nets["residual, gates at 0"](x), x)
    assert nets["residual, s = 1/√L"].branch_scale == pytest.approx(1 / 2)  # 1 / sqrt(3 + 1)


@pytest.mark.parametrize("depth", [1, 3])
def test_plain_identity_is_the_identity_above_minus_offset_and_clamps_below(depth):
    net = plain_identity(depth, offset=2.0, width=5)
    assert len(net.layers) == depth + 1 and not net.use_shortcut
    x = torch.linspace(-4, 4, 40).reshape(8, 5)
    with torch.no_grad():
        out = net(x)
    # ReLU(x + c) - c = max(x, -c): the identity wherever x >= -c
    assert torch.allclose(out, torch.clamp(x, min=-2.0), atol=1e-6)
    inside = x >= -2.0
    assert torch.allclose(out[inside], x[inside], atol=1e-6)


def test_fit_regression_records_the_relative_error_and_learns(digits):
    config = IdentityConfig(depth=2, steps=40, record_every=20)
    net = identity_networks(depth=2, seed=0)["plain"]
    x = digits.x_train[:200]
    with torch.no_grad():
        start = nn.functional.mse_loss(net(x), x).item() / x.var().item()
    steps, errors = fit_regression(net, x, x, config.steps, record_every=config.record_every)
    assert steps == [0, 20, 40]
    assert errors[0] == pytest.approx(start, rel=1e-6)
    assert errors[-1] < errors[0]


def test_identity_experiment_is_deterministic(digits):
    config = IdentityConfig(depth=2, steps=10, record_every=5)
    first, second = identity_experiment(config, digits), identity_experiment(config, digits)
    assert list(first) == ["identity", "near-identity linear map"]
    assert first == second
    assert first["identity"]["residual, gates at 0"][1][0] == 0.0  # starts exactly at the target


def test_path_study_totals_are_gradient_times_binomial_counts(digits):
    model = build_network(NetSpec(4, True, "he", True), seed=0)
    study = path_study(model, digits, samples=2, batch=16)
    assert study.n_blocks == 4
    assert study.counts == [math.comb(4, k) for k in range(5)]
    assert np.allclose(study.total, study.gradient * np.array([1, 4, 6, 4, 1]))
    assert study.share_up_to(4) == pytest.approx(1.0)


def test_path_study_peak_and_share_by_hand():
    study = PathStudy(2, [1, 2, 1], np.array([1.0, 1.0, 0.1]))  # totals 1, 2, 0.1
    assert study.peak == 1
    assert study.share_up_to(0) == pytest.approx(1 / 3.1)


def test_factor_per_branch_and_branch_gain_by_hand():
    # a gradient that halves with every branch, on a network whose branches are scaled by 1/4:
    # the branch's own Jacobian doubles the gradient, the imposed scale quarters it
    gradient = 0.5 ** np.arange(7)
    study = PathStudy(6, [math.comb(6, k) for k in range(7)], gradient, branch_scale=0.25)
    assert study.factor_per_branch() == pytest.approx(0.5)
    assert study.factor_per_branch(up_to=2) == pytest.approx(0.5)
    assert study.branch_gain == pytest.approx(2.0)
    short = PathStudy(2, [1, 2, 1], np.array([1.0, 0.1, 0.04]))  # fewer blocks than up_to
    assert short.factor_per_branch() == pytest.approx(0.2)  # (0.04 / 1) ** (1 / 2)


def test_path_study_takes_the_networks_branch_scale(digits):
    model = build_network(NetSpec(4, True, "he", True), seed=0)
    assert path_study(model, digits, samples=1, batch=8).branch_scale == pytest.approx(0.5)
    default = build_network(NetSpec(4, True, "torch"), seed=0)
    assert path_study(default, digits, samples=1, batch=8).branch_scale == 1.0


def test_path_studies_match_single_studies_before_and_after_training(digits):
    scaled, default = PATH_FAMILIES
    out = path_studies(digits, {scaled: (2,), default: (2, 3)}, seed=1, samples=2)
    assert list(out.trained) == [(scaled, 2), (default, 2), (default, 3)]
    spec = NetSpec(3, True, "torch")
    untrained = build_network(spec, 1)
    assert np.allclose(out.at_init[default, 3].gradient,
                       path_study(untrained, digits, samples=2, seed=1).gradient)  # fmt: skip
    model, _ = train_digit_classifier(spec, digits, seed=1)
    assert np.allclose(out.trained[default, 3].gradient,
                       path_study(model, digits, samples=2, seed=1).gradient)  # fmt: skip
    assert out.models[scaled, 2].branch_scale == pytest.approx(1 / math.sqrt(2))


def test_lesion_study_matches_deleting_by_hand(digits):
    model = build_network(NetSpec(3, True, "he", True), seed=0)
    result = lesion_study(model, digits, counts=(1, 3), draws=2)
    assert result.baseline == evaluate(model, digits.x_test, digits.y_test)[1]
    # deleting block 1 by hand: blocks 0 and 2, then the output layer
    s = model.branch_scale
    with torch.no_grad():
        h = digits.x_test
        for i in (0, 2):
            h = h + s * model.layers[i](h)
        acc = (model.layers[3](h).argmax(1) == digits.y_test).float().mean().item()
    assert result.single[1] == pytest.approx(acc)
    assert len(result.single) == 3
    # deleting all three blocks leaves the output layer on the raw input, whichever are drawn
    with torch.no_grad():
        bare = (model.layers[3](digits.x_test).argmax(1) == digits.y_test).float().mean().item()
    assert result.several[3] == pytest.approx(bare)
    assert result.mean_single_drop == pytest.approx(result.baseline - np.mean(result.single))


def test_correlations_by_hand():
    g = torch.tensor([[1.0, 0.0], [1.0, 1.0], [0.0, 1.0]])
    # uncentred: cosines between rows 0-1, 1-2 are 1/sqrt(2); between rows 0-2 it is 0
    assert lagged_correlation(g, 1, centred=False) == pytest.approx(1 / math.sqrt(2))
    assert lagged_correlation(g, 2, centred=False) == pytest.approx(0.0)
    # centred: the mean (2/3, 2/3) removed leaves (1, -2)/3, (1, 1)/3, (-2, 1)/3, whose neighbours
    # have cosine -1/sqrt(10) and whose ends have cosine -4/5
    assert lagged_correlation(g, 1) == pytest.approx(-1 / math.sqrt(10))
    assert lagged_correlation(g, 2) == pytest.approx(-0.8)


def test_centred_correlation_ignores_a_part_shared_by_every_input():
    torch.manual_seed(0)
    g = torch.randn(20, 6)
    shifted = g + torch.tensor([5.0, -3.0, 0.0, 2.0, 1.0, 7.0])  # the same vector added everywhere
    assert lagged_correlation(shifted, 3) == pytest.approx(lagged_correlation(g, 3))
    assert lagged_correlation(shifted, 3, centred=False) > lagged_correlation(g, 3, centred=False)


def test_digit_line_runs_from_one_digit_to_the_other(digits):
    line = digit_line(digits, points=5, pair=(2, 3))
    assert line.shape == (5, 64)
    assert torch.allclose(line[0], digits.x_test[2]) and torch.allclose(line[-1], digits.x_test[3])
    assert torch.allclose(line[2], (digits.x_test[2] + digits.x_test[3]) / 2, atol=1e-6)


def test_shatter_sweep_shapes_and_values(digits):
    sweep = shatter_sweep(digits, depths=(1, 2), seeds=(0, 3), lag=4)
    for name, kw in (
        ("plain, He init", {}),
        ("residual, He init, s = 1/√L", {"scale_branches": True}),
    ):
        assert sweep.line[name].shape == (2, 2) and sweep.uncentred[name].shape == (2, 2)
        assert sweep.median(name).shape == (2,)
        assert sweep.singular_values[name].shape == (64,)
        model = build_network(NetSpec(2, name != "plain, He init", "he", **kw), 3)
        grads = input_gradients(model, digit_line(digits))
        assert sweep.line[name][1, 1] == pytest.approx(lagged_correlation(grads, 4))
        assert sweep.uncentred[name][1, 1] == pytest.approx(lagged_correlation(grads, 4, False))


def test_init_networks_differ_only_in_how_they_start(digits):
    nets = init_networks(depth=4, seed=0)
    x = digits.x_train[:8]
    for net in nets.values():
        assert net(x).shape == (8, 10)
        assert len(net.layers) == 5
    fixed = {name: net for name, net in nets.items() if isinstance(net, ScaledShortcutMLP)}
    gated = {name: net for name, net in nets.items() if isinstance(net, GatedResidualMLP)}
    assert {n: net.branch_scale for n, net in fixed.items()} == {
        "residual, PyTorch default init, s = 1": 1.0,
        "residual, He init, s = 1/√L": pytest.approx(0.5),
        "residual, He init, s = 1/L": pytest.approx(0.25),
    }
    assert torch.equal(gated["residual, He init, gates at 1/√L"].gates, torch.full((4,), 0.5))
    assert all(net.gates.requires_grad for net in gated.values())  # the gates are learned
    # a gate at 1/√L computes what the fixed factor 1/√L computes (the same He weights)
    with torch.no_grad():
        assert torch.allclose(gated["residual, He init, gates at 1/√L"](x),
                              fixed["residual, He init, s = 1/√L"](x), atol=1e-5)  # fmt: skip
    zero = gated["residual, He init, gates at 0"]
    # the gated network's body is the identity: its logits are the output layer on the input
    assert torch.allclose(zero(x), zero.layers[-1](x))


def test_lesion_over_seeds_is_one_lesion_study_per_seed(digits):
    result = lesion_over_seeds(digits, depth=2, seeds=(0, 3), counts=(1, 2), draws=3)
    assert result.seeds == [0, 3]
    assert list(result.results) == list(LESION_FAMILIES)
    for name, spec in (("plain, He init", NetSpec(2, False, "he")),
                       ("residual, He init, s = 1/√L", NetSpec(2, True, "he", True)),
                       ("residual, PyTorch default init, s = 1", NetSpec(2, True, "torch"))):  # fmt: skip
        assert len(result.results[name]) == 2
        model, _ = train_digit_classifier(spec, digits, seed=3)
        by_hand = lesion_study(model, digits, counts=(1, 2), draws=3, seed=3)
        assert result.results[name][1].single == by_hand.single
        assert result.values(name, "baseline")[1] == by_hand.baseline
        assert result.values(name, 2)[1] == by_hand.several[2]
        assert result.values(name, "worst_single")[1] == min(by_hand.single)


def test_lesion_over_seeds_reuses_the_path_studys_networks(digits):
    """The first seed's networks trained by the path study are the ones lesion_over_seeds trains:
    handing them over changes no result (the path study does not move a weight)."""
    paths = path_studies(digits, {name: (2,) for name in PATH_FAMILIES}, seed=0, samples=2)
    trained = {name: paths.models[name, 2] for name in PATH_FAMILIES}
    kw = dict(depth=2, seeds=(0, 1), counts=(1, 2), draws=3)
    reused, fresh = (
        lesion_over_seeds(digits, **kw, trained=trained),
        lesion_over_seeds(digits, **kw),
    )
    for name in LESION_FAMILIES:
        for a, b in zip(reused.results[name], fresh.results[name], strict=True):
            assert (a.baseline, a.single, a.several) == (b.baseline, b.single, b.several)
    with pytest.raises(ValueError, match="has 2 blocks, not 3"):
        lesion_over_seeds(digits, depth=3, seeds=(0,), counts=(1,), draws=1, trained=trained)
    with pytest.raises(ValueError, match="unknown family 'plain'"):
        lesion_over_seeds(
            digits, depth=2, seeds=(0,), trained={"plain": next(iter(trained.values()))}
        )


def test_init_experiment_over_seeds_matches_single_runs(digits):
    out = init_experiment(
        digits, depth=2, steps=20, lr=0.05, seeds=(0, 1), short_steps=10, record_every=10
    )
    assert isinstance(out, InitExperiment) and out.seeds == [0, 1]
    assert out.runs["residual, He init, gates at 0"].history.steps == [0, 10, 20]
    assert set(SHORT_RUNS) < set(out.final_loss)
    for name, model in init_networks(2, seed=1).items():
        n_steps = 10 if name in SHORT_RUNS else 20
        history = train_classifier(model, digits, n_steps, 0.05, seed=1, record_every=n_steps)
        assert out.final_loss[name][1] == pytest.approx(history.train_loss[-1], rel=1e-6)
        assert out.final_accuracy[name][1] == pytest.approx(history.test_accuracy[-1])
        assert out.initial_loss[name][1] == pytest.approx(history.train_loss[0], rel=1e-6)
        # the first seed is recorded more often; recording does not change the training
        assert out.runs[name].history.steps[-1] == n_steps
        assert out.runs[name].history.train_loss[-1] == out.final_loss[name][0]
        assert len(out.runs[name].rms) == 3  # the signal entering each of its three layers
    out.final_loss["residual, He init, gates at 0"][1] = float("nan")
    assert out.per_seed("final_loss", "residual, He init, gates at 0")[1] == math.inf


def test_init_experiment_reuses_the_path_studys_network(digits):
    """The network with s = 1/√L trained as the path study trains it (``train_digit_classifier``),
    with the first seed and recorded as often, is the initialisation experiment's: handing it over
    changes nothing the experiment returns."""
    name = "residual, He init, s = 1/√L"
    model, history = train_digit_classifier(
        NetSpec(2, True, "he", True), digits, seed=0, steps=20, record_every=10
    )
    reuse = {name: (model, history)}
    kw = dict(depth=2, steps=20, lr=0.05, seeds=(0, 1), short_steps=10, record_every=10)
    reused, fresh = init_experiment(digits, **kw, trained=reuse), init_experiment(digits, **kw)
    assert reused.final_loss == fresh.final_loss and reused.initial_loss == fresh.initial_loss
    assert reused.runs[name].history.train_loss == fresh.runs[name].history.train_loss
    assert reused.runs[name].rms == fresh.runs[name].rms
    with pytest.raises(ValueError, match="recorded at"):
        init_experiment(digits, **{**kw, "record_every": 5}, trained=reuse)
    with pytest.raises(ValueError, match="is not one of the networks"):
        init_experiment(digits, **kw, trained={SHORT_RUNS[0]: reuse[name]})


def test_seeds_follow_the_book_wide_offset(digits, monkeypatch):
    config = IdentityConfig(depth=1, steps=4, record_every=2)
    shifted = identity_experiment(IdentityConfig(depth=1, steps=4, record_every=2, seed=7), digits)
    model = build_network(NetSpec(3, True, "he", True), seed=0)
    by_seed = lesion_study(model, digits, counts=(2,), draws=3, seed=7).several
    monkeypatch.setenv("GRADFLOW_SEED_OFFSET", "7")
    assert identity_experiment(config, digits) == shifted  # the random map too
    assert lesion_study(model, digits, counts=(2,), draws=3, seed=0).several == by_seed


def test_first_nonfinite_step():
    history = History(steps=[0, 10, 20], train_loss=[1.0, float("inf"), float("nan")])
    assert first_nonfinite_step(history) == 10
    assert first_nonfinite_step(History(steps=[0], train_loss=[1.0])) is None


def test_bad_input_is_rejected(digits):
    with pytest.raises(ValueError, match="depth must be >= 1"):
        IdentityConfig(depth=0)
    with pytest.raises(ValueError, match="lr must be a positive number"):
        IdentityConfig(lr=0.0)
    with pytest.raises(TypeError, match="config must be an IdentityConfig"):
        identity_experiment({"depth": 2}, digits)
    with pytest.raises(TypeError, match="data must be a gradflow.data.Digits"):
        shatter_sweep(digits.x_train)
    with pytest.raises(ValueError, match="a lag of 5 needs more than 5 gradients"):
        lagged_correlation(torch.ones(5, 2), 5)
    with pytest.raises(ValueError, match="cannot delete 4 of 3 blocks"):
        lesion_study(build_network(NetSpec(3, True), seed=0), digits, counts=(4,))
    with pytest.raises(ValueError, match="unknown family 'plain'"):
        path_studies(digits, {"plain": (2,)})
    with pytest.raises(ValueError, match="offset must be a positive number"):
        plain_identity(2, offset=0.0)


# -- The paths explorer --------------------------------------------------------------------------
A, B = "residual, family a", "residual, family b"


def tiny_paths(gradients=None) -> PathStudies:
    """Family a at 2 and 6 blocks, family b at 2 only; trained gradients are half those at init,
    except where ``gradients`` gives its own."""
    g = {  # a path's gradient by length, made up: each branch multiplies it by 1/2, 1/5, 1/10...
        (A, 2): [1.0, 0.5, 0.1],
        (B, 2): [1.0, 0.2, 0.3],
        (A, 6): [1.0, 0.5, 0.1, 0.01, 0.001, 1e-4, 1e-5],
    } | (gradients or {})
    study = {k: PathStudy(k[1], path_counts(k[1]), np.array(v)) for k, v in g.items()}
    trained = {k: PathStudy(k[1], path_counts(k[1]), np.array(v) / 2) for k, v in g.items()}
    return PathStudies(study, trained, {})


def test_paths_explorer_carries_every_study():
    paths = tiny_paths()
    explorer = paths_explorer(paths)
    assert explorer.controls[0].values == [2, 6] and explorer.controls[1].values == [False, True]
    data = explorer.data()
    top = float(re.search(r"translate\(18 ([\d.]+)\)", explorer.svg()).group(1)) * 2 - chart.BOTTOM
    for i, n in enumerate([2, 6]):
        for j, trained in enumerate([False, True]):
            caption, parts = data["states"][i][j]
            view, xaxis, yaxis, xs = explorer.views[(n, trained)]
            assert caption == view.caption and xs == list(range(n + 1))
            studies = paths.trained if trained else paths.at_init
            expected = {"paths": [math.comb(n, k) / 2**n for k in range(n + 1)]}
            for f, family in enumerate((A, B)):
                if (family, n) in studies:
                    total = np.array(studies[family, n].gradient) * path_counts(n)
                    expected[f"family{f}"] = list(total / total.sum())
            assert set(view.y) == set(expected)
            for s, series in enumerate(explorer.series):
                drawn = points(data["pool"][parts[2 + s]], xaxis, yaxis, top)
                if series.name not in expected:
                    assert drawn == []  # family b is not measured at 6 blocks: not drawn
                    continue
                assert view.y[series.name] == pytest.approx(expected[series.name], abs=1e-12)
                assert [x for x, _ in drawn] == pytest.approx(xs, abs=0.01)
                assert [y for _, y in drawn] == pytest.approx(expected[series.name], abs=2e-3)
    # both axes have at least two labelled ticks and hold every state's values
    for view, xaxis, yaxis, _ in explorer.views.values():
        assert len(xaxis.ticks) >= 2 and len(yaxis.ticks) >= 2
        assert xaxis.hi == 6 and max(max(v) for v in view.y.values()) <= yaxis.hi


def test_paths_explorer_caption_by_hand():
    explorer = paths_explorer(tiny_paths(), blocks=6)
    # 6 blocks: most paths through 3 branches; at most 6 // 4 = 1 branch: (1 + 6) / 64 = 10.9 %.
    # Family a's totals, C(6, k) g_k / 2: (1, 3, 1.5, 0.2, 0.015, 0.0006, 0.00001) / 2, largest at
    # 1, whose paths with length 0 carry (1 + 3) / 5.71561 = 70.0 %; family b has no 6 blocks
    assert repr(explorer) == (
        "6 blocks, after training: most paths pass through 3 branches, most gradient through 1 "
        "(family a). The paths through at most 1 branch are 10.9 % of all paths and carry "
        "70.0 % of the gradient. Not measured at 6 blocks: family b."
    )
    # 2 blocks at initialisation: totals (1, 1, 0.1) for a, largest first at 0, and (1, 0.4, 0.3)
    # for b; at most 0 branches: 1 / 4 of the paths, 1 / 2.1 = 47.6 % and 1 / 1.7 = 58.8 %
    assert explorer.data()["states"][0][0][0] == (
        "2 blocks, at initialisation: most paths pass through 1 branch, most gradient through 0 "
        "(family a) and 0 (family b). The paths through at most 0 branches are 25.0 % of all "
        "paths and carry 47.6 % and 58.8 % of the gradient."
    )


def test_paths_explorer_is_accessible_and_within_budget():
    explorer = paths_explorer(tiny_paths(), blocks=2, trained=False)
    html = explorer._repr_html_()
    assert 'type="range" min="0" max="1" step="1" value="0" aria-valuetext="2 blocks"' in html
    assert '<input type="checkbox"> after training' in html
    assert "2 blocks at initialisation" in explorer.alt
    shared = b"".join(gx.asset(name).read_bytes() for name in gx.ASSETS)
    assert len(gzip.compress(html.encode())) + len(gzip.compress(shared)) <= 30_000


@pytest.mark.parametrize(
    "paths, error, match",
    [
        ({"at_init": {}, "trained": {}}, TypeError, "paths must be a PathStudies"),
        (PathStudies({}, {}, {}), TypeError, "paths must be a PathStudies"),
        (PathStudies({}, tiny_paths().trained, {}), ValueError, "must study the same"),
        (tiny_paths({(A, 2): [1.0, math.nan, 0.1]}), ValueError, "must be finite"),
        (tiny_paths({(A, 2): [0.0, 0.0, 0.0]}), ValueError, "not all 0"),
        (tiny_paths({("residual, c", 2): [1.0, 0.5, 0.1]}), ValueError, "at most 2 families"),
    ],
)
def test_paths_explorer_refuses_bad_studies(paths, error, match):
    with pytest.raises(error, match=match):
        paths_explorer(paths)


def test_paths_explorer_refuses_a_study_of_the_wrong_length():
    paths = tiny_paths()
    paths.trained[A, 6] = PathStudy(5, path_counts(5), np.ones(6))
    with pytest.raises(ValueError, match="6 blocks: needs n \\+ 1 counts"):
        paths_explorer(paths)
    paths.trained[A, 6] = PathStudy(6, [1] * 7, np.ones(7))
    with pytest.raises(ValueError, match="6 blocks: the counts must add up to all 2\\*\\*n"):
        paths_explorer(paths)
