"""Protects the experiments of the chapter on why residual networks work: the networks of the identity
task start where the text says (the gated one *is* the identity), the path study's totals are the
per-path gradient times the binomial counts, the lesion study's accuracies are those of the network
with the block removed by hand, the correlation measures agree with cosine similarities computed by
hand, the initialisation experiment's networks differ only in how they start, the multi-seed
experiments give for every seed what one run with that seed gives, every seed follows the book-wide
offset, and bad input raises a clear error."""

import math

import numpy as np
import pytest
import torch
from torch import nn

from gradflow.data import load_digits
from gradflow.experiments.shortcuts_in_training import NetSpec, build_network
from gradflow.experiments.why_residuals_work import (
    IdentityConfig,
    InitExperiment,
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
    pairwise_correlation,
    path_study,
    shatter_sweep,
    train_digit_classifier,
)
from gradflow.train import History, evaluate, fit_regression, train_classifier


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
    # cosines between rows 0-1, 1-2 are 1/sqrt(2); between rows 0-2 it is 0
    assert lagged_correlation(g, 1) == pytest.approx(1 / math.sqrt(2))
    assert lagged_correlation(g, 2) == pytest.approx(0.0)
    assert pairwise_correlation(g) == pytest.approx((2 / math.sqrt(2) + 0) / 3)


def test_digit_line_runs_from_one_digit_to_the_other(digits):
    line = digit_line(digits, points=5, pair=(2, 3))
    assert line.shape == (5, 64)
    assert torch.allclose(line[0], digits.x_test[2]) and torch.allclose(line[-1], digits.x_test[3])
    assert torch.allclose(line[2], (digits.x_test[2] + digits.x_test[3]) / 2, atol=1e-6)


def test_shatter_sweep_shapes(digits):
    sweep = shatter_sweep(digits, depths=(1, 2), seeds=(0,), lag=4, n_digits=10)
    for name in sweep.line:
        assert len(sweep.line[name]) == 2 and len(sweep.pairs[name]) == 2
        assert sweep.singular_values[name].shape == (64,)


def test_init_networks_differ_only_in_how_they_start(digits):
    nets = init_networks(depth=4, seed=0)
    x = digits.x_train[:8]
    for net in nets.values():
        assert net(x).shape == (8, 10)
        assert len(net.layers) == 5
    assert nets["residual, He init, s = 1/√L"].branch_scale == pytest.approx(0.5)
    gated = nets["residual, He init, gates at 0"]
    # the gated network's body is the identity: its logits are the output layer on the input
    assert torch.allclose(gated(x), gated.layers[-1](x))


def test_lesion_over_seeds_is_one_lesion_study_per_seed(digits):
    result = lesion_over_seeds(digits, depth=2, seeds=(0, 3), counts=(1, 2))
    assert result.seeds == [0, 3]
    for name, spec in (("plain, He init", NetSpec(2, False, "he")),
                       ("residual, He init, s = 1/√L", NetSpec(2, True, "he", True))):  # fmt: skip
        assert len(result.results[name]) == 2
        model, _ = train_digit_classifier(spec, digits, seed=3)
        by_hand = lesion_study(model, digits, counts=(1, 2), seed=3)
        assert result.results[name][1].single == by_hand.single
        assert result.values(name, "baseline")[1] == by_hand.baseline
        assert result.values(name, 2)[1] == by_hand.several[2]
        assert result.values(name, "worst_single")[1] == min(by_hand.single)


def test_init_experiment_over_seeds_matches_single_runs(digits):
    out = init_experiment(digits, depth=2, steps=20, lr=0.05, seeds=(0, 1), default_steps=10)
    assert isinstance(out, InitExperiment) and out.seeds == [0, 1]
    for name, model in init_networks(2, seed=1).items():
        n_steps = 10 if name == "residual, PyTorch default init" else 20
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
