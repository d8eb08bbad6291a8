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
from gradflow.gradients import gradient_factors, gradient_profile
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
    for seed in seeds:
        check_int(seed, "each seed")
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
