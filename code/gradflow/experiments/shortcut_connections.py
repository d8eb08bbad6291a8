"""Experiments of the lesson on shortcut connections: the demonstration network made deeper.

The lesson's network is Raschka's (chapter 4): ``ShortcutMLP`` of width 3 with one output, one
example ``x = [1, 0, -1]``, target 0, the mean squared error, and the mean absolute gradient of each
layer's weights (``gradflow.gradients.gradient_profile``). ``depth_profiles`` measures that profile
at every depth of a grid and for several activations, without and with shortcuts.
``gradflow.display.ProfileExplorer`` draws the result. ``seed_sweep`` measures the chapter's own
five-layer network, both versions, for many seeds: how much the chapter's one seed says.

One change to the chapter's network: the output layer has no activation (a linear output, as in
regression). Made deeper, the chapter's network sometimes drives its single output unit so far
into its activation's flat tail that the output's slope is exactly 0, and then so is every gradient.
"""

from collections.abc import Sequence

import torch

from gradflow._checks import check_int, check_positive_int
from gradflow.gradients import gradient_factors, gradient_profile, record_inputs
from gradflow.init import book_seed, seeded
from gradflow.mlp import ShortcutMLP, check_activation

LAYER_SIZES = (3, 3, 3, 3, 3, 1)  # Raschka's five-layer network: three inputs, one output
DEPTHS = tuple(range(2, 31))  # numbers of Linear layers; depth 5 is the chapter's network
ACTIVATIONS = ("gelu", "sigmoid", "tanh")
EXAMPLE = ((1.0, 0.0, -1.0),)  # the chapter's one example, three features
TARGET = ((0.0,),)


def depth_profiles(
    depths: Sequence[int] = DEPTHS,
    activations: Sequence[str] = ACTIVATIONS,
    seed: int = 123,
) -> dict[str, dict[int, dict[str, list[float]]]]:
    """Per-layer ``mean |dL/dW|`` of the demonstration network: ``[activation][depth][kind]``.

    ``kind`` is ``"plain"`` (without shortcuts) or ``"residual"`` (with them). A network of depth
    ``d`` has layer sizes ``[3] * d + [1]``; both versions of it are drawn right after seeding with
    ``seed``, so they start from the same weights, as in the chapter.
    """
    check_int(seed, "seed")
    if isinstance(depths, (str, bytes)) or not isinstance(depths, Sequence) or not depths:
        raise ValueError(f"depths must be a non-empty sequence of ints, got {depths!r}")
    for depth in depths:
        check_positive_int(depth, "each depth", minimum=2)
    if isinstance(activations, str) or not activations:
        raise ValueError(f"activations must be a non-empty sequence of names, got {activations!r}")
    x = torch.tensor(EXAMPLE)  # (1, 3)
    target = torch.tensor(TARGET)  # (1, 1)
    out: dict[str, dict[int, dict[str, list[float]]]] = {}
    for activation in activations:
        check_activation(activation)
        out[activation] = {}
        for depth in depths:
            sizes = [x.shape[1]] * depth + [1]
            profiles = {}
            for name, shortcut in (("plain", False), ("residual", True)):
                with seeded(seed):
                    model = ShortcutMLP(
                        sizes, use_shortcut=shortcut, activation=activation, last_activation=False
                    )
                profiles[name] = gradient_profile(model, x, target)
            out[activation][depth] = profiles
    return out


def smallest_deep_gains(
    seeds: Sequence[int] = tuple(range(123, 128)), from_depth: int = 10
) -> list[float]:
    """For each seed, the smallest first-layer ratio with / without shortcuts over ``depth_profiles``.

    The smallest over every activation and every depth of ``DEPTHS`` from ``from_depth`` on: how far
    the explorer's claim (shortcuts give the first layer more gradient) holds for other seeds.
    """
    if isinstance(seeds, (str, bytes)) or not isinstance(seeds, Sequence) or not seeds:
        raise ValueError(f"seeds must be a non-empty sequence of ints, got {seeds!r}")
    check_positive_int(from_depth, "from_depth", minimum=2)
    depths = [d for d in DEPTHS if d >= from_depth]
    if not depths:
        raise ValueError(f"from_depth must be at most {DEPTHS[-1]}, got {from_depth}")
    gains = []
    for seed in seeds:
        profiles = depth_profiles(depths=depths, seed=seed)
        gains.append(min(
            pair["residual"][0] / pair["plain"][0]
            for by_depth in profiles.values()
            for pair in by_depth.values()
        ))  # fmt: skip
    return gains


def seed_sweep(seeds: Sequence[int] = tuple(range(20))) -> list[dict]:
    """The chapter's experiment for every seed: gradient profile and factors, without and with shortcuts.

    For each seed (shifted by ``GRADFLOW_SEED_OFFSET``, as every seed of the package) both versions
    of the network (GELU, with its output activation, as in the chapter) are drawn right after seeding
    with it. Each entry holds ``"seed"`` (the seed drawn with) and, for ``"plain"`` and ``"residual"``,
    the mean absolute gradient of each layer's weights (``"profile"``) and its three factors
    (``"factors"``, from ``gradflow.gradients.gradient_factors``).
    """
    if isinstance(seeds, (str, bytes)) or not isinstance(seeds, Sequence) or not seeds:
        raise ValueError(f"seeds must be a non-empty sequence of ints, got {seeds!r}")
    x = torch.tensor(EXAMPLE)  # (1, 3)
    target = torch.tensor(TARGET)  # (1, 1)
    out = []
    for seed in seeds:
        entry: dict = {"seed": book_seed(seed)}
        for name, shortcut in (("plain", False), ("residual", True)):
            with seeded(seed):
                model = ShortcutMLP(list(LAYER_SIZES), use_shortcut=shortcut)
            entry[name] = {
                "profile": gradient_profile(model, x, target),
                "factors": gradient_factors(model, x, target),
            }
        out.append(entry)
    return out


def gain_split(entry: dict) -> tuple[float, float, float]:
    """One seed of ``seed_sweep``: the first layer's gain from the shortcuts (residual over plain) as
    the product of three ratios: the output error, the last layer's backward path, and the hidden
    layers' path (the first layer's path over the last layer's)."""
    p, r = entry["plain"]["factors"], entry["residual"]["factors"]
    error = r["error"] / p["error"]
    last = r["path"][-1] / p["path"][-1]
    hidden = r["path"][0] / p["path"][0] / last
    return error, last, hidden


def activation_slopes(model: ShortcutMLP, x: torch.Tensor) -> list[torch.Tensor]:
    """For one example, the slope of every layer's activation at the pre-activation it receives."""
    if x.shape[0] != 1:
        raise ValueError(f"x must hold exactly one example, got a batch of {x.shape[0]}")
    acts = [layer[1] for layer in model.layers]
    with torch.no_grad(), record_inputs(acts) as pre:
        model(x)
    slopes = []
    for a, act in zip(pre, acts, strict=True):
        z = a[0].clone().requires_grad_(True)  # (C,)
        (slope,) = torch.autograd.grad(act(z).sum(), z)
        slopes.append(slope)
    return slopes


def first_layer_path(
    model: ShortcutMLP, slopes: Sequence[torch.Tensor], use_shortcut: bool
) -> float:
    """mean|delta_1| per unit of gradient at the output layer's pre-activation (one output unit).

    The chain rule run by hand with the model's weights, the hidden layers' activation slopes
    ``slopes`` (one vector per layer, input first) and the shortcuts switched on or off, so that the
    slopes of one network can be combined with the shortcuts of another.
    """
    weights = [layer[0].weight.detach() for layer in model.layers]  # W_k: (out, in)
    if weights[-1].shape[0] != 1:
        raise ValueError("first_layer_path needs a network with one output unit")
    grad = weights[-1][0]  # dL/dh_{L-1} per unit of gradient at the output's pre-activation
    for k in range(len(weights) - 2, -1, -1):  # hidden layers, last first
        delta = slopes[k] * grad  # delta_k, the gradient at layer k's pre-activation
        if k == 0:
            break
        has_shortcut = use_shortcut and weights[k].shape[0] == weights[k].shape[1]
        grad = weights[k].T @ delta + (grad if has_shortcut else 0.0)
    return delta.abs().mean().item()


def path_split(plain: ShortcutMLP, residual: ShortcutMLP, x: torch.Tensor) -> dict[str, float]:
    """The hidden layers' backward-path ratio, residual over plain, split into identity and slopes.

    Both networks must share their weights. ``"hidden"`` is the whole ratio; ``"identity_first"``
    the gain from switching the shortcuts on at the plain network's slopes and ``"slopes_second"``
    what the residual network's own slopes add to it; ``"slopes_first"`` and ``"identity_second"``
    the same two steps in the other order. Each pair multiplies to ``"hidden"``.
    """
    s_plain, s_res = activation_slopes(plain, x), activation_slopes(residual, x)
    base = first_layer_path(plain, s_plain, use_shortcut=False)
    both = first_layer_path(residual, s_res, use_shortcut=True)
    identity = first_layer_path(plain, s_plain, use_shortcut=True)  # shortcuts, plain slopes
    slopes = first_layer_path(plain, s_res, use_shortcut=False)  # no shortcuts, residual slopes
    return {
        "hidden": both / base,
        "identity_first": identity / base,
        "slopes_second": both / identity,
        "slopes_first": slopes / base,
        "identity_second": both / slopes,
    }
