"""Protects the multi-seed experiments of the shortcut chapter: ``seed_sweep`` reproduces Raschka's
published table for his seed, splits each gradient into factors that multiply back to it, follows
the book-wide seed offset; ``smallest_deep_gains`` is the smallest first-layer ratio of the depth
explorer's profiles, checked against gradients derived by hand for one network; ``first_layer_path`` runs the chain rule
as a hand-derived two-block case does and as autograd does, and ``path_split`` multiplies back."""

import pytest
import torch

from gradflow.experiments.shortcut_connections import (
    activation_slopes,
    depth_profiles,
    first_layer_path,
    gain_split,
    path_split,
    seed_sweep,
    smallest_deep_gains,
)
from gradflow.gradients import gradient_factors
from gradflow.mlp import ShortcutMLP
from gradflow.published import RASCHKA_CH4_GRADIENTS, RASCHKA_CH4_SEED


@pytest.fixture(autouse=True)
def no_offset(monkeypatch):
    """The published seed is meant unshifted: the tests set the offset themselves."""
    monkeypatch.delenv("GRADFLOW_SEED_OFFSET", raising=False)


def test_sweep_reproduces_raschkas_table():
    (entry,) = seed_sweep([RASCHKA_CH4_SEED])
    assert entry["seed"] == RASCHKA_CH4_SEED
    assert entry["plain"]["profile"] == pytest.approx(RASCHKA_CH4_GRADIENTS["without"], rel=1e-4)
    assert entry["residual"]["profile"] == pytest.approx(RASCHKA_CH4_GRADIENTS["with"], rel=1e-4)


@pytest.mark.parametrize("kind", ["plain", "residual"])
def test_sweep_factors_multiply_to_the_profile(kind):
    """mean|dL/dW_k| = output error x backward path x layer input, for every layer and seed."""
    for entry in seed_sweep([0, 1, 2]):
        f = entry[kind]["factors"]
        product = [f["error"] * p * h for p, h in zip(f["path"], f["input"], strict=True)]
        assert product == pytest.approx(entry[kind]["profile"], rel=1e-5)
        assert f["input"][0] == pytest.approx(2 / 3)  # mean |x| of the example [1, 0, -1]


def test_gain_split_multiplies_to_the_first_layers_gain():
    """Both networks see the same input, so the first layer's gain is the output error's ratio
    times the first layer's path ratio, which the split cuts at the last layer."""
    for entry in seed_sweep([0, 1, 2]):
        error, last, hidden = gain_split(entry)
        gain = entry["residual"]["profile"][0] / entry["plain"]["profile"][0]
        assert error * last * hidden == pytest.approx(gain, rel=1e-5)
        p, r = entry["plain"]["factors"], entry["residual"]["factors"]
        assert last == pytest.approx(r["path"][-1] / p["path"][-1])


def test_sweep_follows_the_seed_offset(monkeypatch):
    monkeypatch.setenv("GRADFLOW_SEED_OFFSET", "100")
    shifted = seed_sweep([RASCHKA_CH4_SEED - 100])
    assert shifted[0]["seed"] == RASCHKA_CH4_SEED
    assert shifted[0]["plain"]["profile"] == pytest.approx(
        RASCHKA_CH4_GRADIENTS["without"], rel=1e-4
    )


def test_smallest_deep_gain_derived_by_hand(monkeypatch):
    """On a grid cut to depth 2: y = W2 h1 + b2 (linear output, as in the explorer), h1 = act(W1 x +
    b1) (+ x with the shortcut), loss y^2, so dL/dW1 = ((W2^T 2y) * act'(a1)) x^T, by autograd
    on the formula rather than on the package's model."""
    from gradflow.experiments import shortcut_connections

    monkeypatch.setattr(shortcut_connections, "DEPTHS", (2,))
    activations = {
        "gelu": lambda a: torch.nn.functional.gelu(a, approximate="tanh"),
        "sigmoid": torch.sigmoid,
        "tanh": torch.tanh,
    }
    x = torch.tensor([1.0, 0.0, -1.0])
    gains = []
    for act in activations.values():
        first = {}
        for shortcut in (False, True):
            torch.manual_seed(123)  # the weights the experiment draws: layer 1, then layer 2
            l1, l2 = torch.nn.Linear(3, 3), torch.nn.Linear(3, 1)
            w1 = l1.weight.detach().requires_grad_()
            h1 = act(w1 @ x + l1.bias.detach()) + (x if shortcut else 0)
            y = l2.weight.detach() @ h1 + l2.bias.detach()  # (1,)
            (y**2).sum().backward()
            first[shortcut] = w1.grad.abs().mean().item()
        gains.append(first[True] / first[False])
    assert smallest_deep_gains([123], from_depth=2) == pytest.approx([min(gains)], rel=1e-5)


def test_smallest_deep_gains_agree_with_the_profiles():
    profiles = depth_profiles(depths=[29, 30], seed=5)
    expected = min(
        pair["residual"][0] / pair["plain"][0] for by in profiles.values() for pair in by.values()
    )
    assert smallest_deep_gains([5], from_depth=29) == pytest.approx([expected])


@pytest.mark.parametrize(
    "call, error",
    [
        (lambda: seed_sweep([]), ValueError),
        (lambda: seed_sweep("0"), ValueError),
        (lambda: seed_sweep([1.5]), TypeError),
        (lambda: smallest_deep_gains([]), ValueError),
        (lambda: smallest_deep_gains([1], from_depth=1), ValueError),
        (lambda: smallest_deep_gains([1], from_depth=31), ValueError),
    ],
)
def test_experiments_reject_bad_input(call, error):
    with pytest.raises(error):
        call()


@pytest.mark.parametrize("use_shortcut", [False, True])
def test_first_layer_path_by_hand(use_shortcut):
    model = ShortcutMLP([2, 2, 2, 1], use_shortcut=use_shortcut)
    w1, w2, w3 = (layer[0].weight for layer in model.layers)
    with torch.no_grad():
        w2.copy_(torch.tensor([[1.0, 2.0], [3.0, 4.0]]))
        w3.copy_(torch.tensor([[5.0, -6.0]]))
    d1, d2 = torch.tensor([0.5, 0.25]), torch.tensor([2.0, 1.0])
    # delta_2 = d2 * w3, g_1 = w2^T delta_2 (+ w3 with the shortcut), delta_1 = d1 * g_1
    delta2 = torch.tensor([10.0, -6.0])
    g1 = torch.tensor([10.0 - 18.0, 20.0 - 24.0]) + (
        torch.tensor([5.0, -6.0]) if use_shortcut else 0
    )
    expected = (d1 * g1).abs().mean().item()
    assert delta2.tolist() == (d2 * w3[0]).tolist()
    assert first_layer_path(model, [d1, d2], use_shortcut) == pytest.approx(expected)


def test_path_split_matches_autograd_and_multiplies_back():
    x, target = torch.tensor([[1.0, 0.0, -1.0]]), torch.tensor([[0.0]])
    nets = {}
    for kind, shortcut in (("plain", False), ("residual", True)):
        torch.manual_seed(RASCHKA_CH4_SEED)
        nets[kind] = ShortcutMLP([3, 3, 3, 3, 3, 1], use_shortcut=shortcut)
    split = path_split(nets["plain"], nets["residual"], x)
    f = {kind: gradient_factors(net, x, target) for kind, net in nets.items()}
    hidden = (f["residual"]["path"][0] / f["residual"]["path"][-1]) / (
        f["plain"]["path"][0] / f["plain"]["path"][-1]
    )
    assert split["hidden"] == pytest.approx(hidden, rel=1e-4)
    assert split["identity_first"] * split["slopes_second"] == pytest.approx(split["hidden"])
    assert split["slopes_first"] * split["identity_second"] == pytest.approx(split["hidden"])
    slopes = activation_slopes(nets["plain"], x)
    assert torch.equal(slopes[0], activation_slopes(nets["residual"], x)[0])  # both read x
    with pytest.raises(ValueError, match="exactly one example"):
        activation_slopes(nets["plain"], torch.zeros(2, 3))
