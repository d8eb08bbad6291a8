"""Plain and residual multilayer perceptrons.

``ShortcutMLP`` is the five-layer demonstration network of Raschka, *Build a Large Language Model
(From Scratch)*, chapter 4, generalised to any list of layer sizes and any activation: every layer is a
``Linear`` followed by an activation, and with ``use_shortcut=True`` a layer adds its input to its
output (``x + layer(x)``) wherever the two have the same shape. ``ScaledShortcutMLP`` puts a factor on
every residual branch (``x + scale * layer(x)``); ``fold_branch_scale`` moves that factor into the
branch's weights. ``build_mlp`` builds either as a seeded classifier of ``n_linear`` Linear layers;
``NetSpec`` describes one by its ``depth``, its hidden layers (residual blocks, with shortcuts), the
one meaning of depth for every builder, and ``build_network`` builds it.
"""

import copy
import math
from dataclasses import dataclass

import torch
from torch import nn

from gradflow._checks import check_layer_sizes, check_positive_int, check_positive_number
from gradflow.init import SCHEMES, init_weights, seeded

ACTIVATIONS = {
    "sigmoid": nn.Sigmoid,
    "tanh": nn.Tanh,
    "relu": nn.ReLU,
    "gelu": lambda: nn.GELU(approximate="tanh"),  # the tanh approximation GPT-2 uses
}


def check_activation(name) -> str:
    """Return ``name`` if it names a known activation; raise a clear error otherwise."""
    if not isinstance(name, str):
        raise TypeError(f"activation must be a str, got {type(name).__name__}")
    if name not in ACTIVATIONS:
        raise ValueError(f"unknown activation {name!r}; choose one of {sorted(ACTIVATIONS)}")
    return name


def make_activation(name: str) -> nn.Module:
    """Return a fresh activation module by name: 'sigmoid', 'tanh', 'relu' or 'gelu'."""
    return ACTIVATIONS[check_activation(name)]()


class ShortcutMLP(nn.Module):
    """A stack of Linear + activation layers, with optional shortcuts where shapes match."""

    def __init__(
        self,
        layer_sizes: list[int],
        use_shortcut: bool = False,
        activation: str = "gelu",
        last_activation: bool = True,
    ):
        super().__init__()
        sizes = check_layer_sizes(layer_sizes)
        self.layer_sizes = sizes
        self.use_shortcut = bool(use_shortcut)
        n = len(sizes) - 1
        # One Linear + activation per layer. The book's demo network puts an activation after every
        # layer, the last one included; a classifier wants raw logits instead (last_activation=False).
        self.layers = nn.ModuleList(
            nn.Sequential(
                nn.Linear(sizes[i], sizes[i + 1]),
                make_activation(activation) if (i < n - 1 or last_activation) else nn.Identity(),
            )
            for i in range(n)
        )

    def has_shortcut(self, i: int) -> bool:
        """Whether layer ``i`` adds its input to its output (only when the widths match)."""
        return self.use_shortcut and self.layer_sizes[i] == self.layer_sizes[i + 1]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.layers:
            shortcut = x
            x = layer(x)
            if self.use_shortcut and x.shape == shortcut.shape:
                x = x + shortcut  # the shortcut: the layer's input skips ahead and is added back
        return x


class ScaledShortcutMLP(ShortcutMLP):
    """A ``ShortcutMLP`` whose shortcut layers compute ``x + branch_scale * layer(x)``."""

    def __init__(
        self,
        layer_sizes: list[int],
        use_shortcut: bool = False,
        activation: str = "relu",
        last_activation: bool = False,
        branch_scale: float = 1.0,
    ):
        super().__init__(layer_sizes, use_shortcut, activation, last_activation)
        self.branch_scale = float(check_positive_number(branch_scale, "branch_scale"))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for i, layer in enumerate(self.layers):
            shortcut = x
            x = layer(x)
            if self.has_shortcut(i):
                x = shortcut + self.branch_scale * x  # the branch is scaled, the shortcut is not
        return x


@torch.no_grad()
def fold_branch_scale(model: ScaledShortcutMLP) -> ScaledShortcutMLP:
    """The same function with ``branch_scale`` 1: each residual branch's scale moved into its weights.

    For ``scale`` > 0 and a positively homogeneous activation (ReLU),
    ``x + scale * relu(W x + b) == x + relu(scale * W x + scale * b)``.
    """
    if not isinstance(model, ScaledShortcutMLP):
        raise TypeError(f"model must be a ScaledShortcutMLP, got {type(model).__name__}")
    acts = {type(layer[1]) for i, layer in enumerate(model.layers) if model.has_shortcut(i)}
    if not acts <= {nn.ReLU, nn.Identity}:
        raise ValueError("folding the scale into the weights needs ReLU branches")
    folded = copy.deepcopy(model)
    for i, layer in enumerate(folded.layers):
        if folded.has_shortcut(i):
            layer[0].weight.mul_(folded.branch_scale)
            layer[0].bias.mul_(folded.branch_scale)
    folded.branch_scale = 1.0
    return folded


def check_blocks(model: ShortcutMLP, layer_sizes: list[int]) -> int:
    """The number of ``model``'s residual blocks; a clear error if it has none."""
    n_blocks = sum(model.has_shortcut(i) for i in range(len(model.layers)))
    if n_blocks == 0:
        raise ValueError(
            f"layer_sizes {layer_sizes} has no two equal neighbouring widths: no residual block"
        )
    return n_blocks


class GatedResidualMLP(ShortcutMLP):
    """A residual MLP whose blocks compute ``x + gate * layer(x)``, every gate starting at 0.

    The gate is a learned scalar per block (ReZero, Bachlechner et al. 2020; SkipInit, De & Smith
    2020): at initialisation every block is the identity, whatever the depth.
    """

    def __init__(self, layer_sizes: list[int], activation: str = "relu", gate_init: float = 0.0):
        super().__init__(
            layer_sizes, use_shortcut=True, activation=activation, last_activation=False
        )
        n_blocks = check_blocks(self, layer_sizes)  # how many layers have a shortcut: at least one
        # one scalar per block
        self.gates = nn.Parameter(torch.full((n_blocks,), gate_init, dtype=torch.float32))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        block = 0
        for i, layer in enumerate(self.layers):
            if self.has_shortcut(i):
                shortcut = x
                x = shortcut + self.gates[block] * layer(x)  # at gate 0 the block is the identity
                block += 1
            else:
                x = layer(x)
        return x


def build_mlp(
    n_linear: int,
    width: int = 64,
    in_features: int = 64,
    out_features: int = 10,
    activation: str = "relu",
    use_shortcut: bool = False,
    branch_scale: float = 1.0,
    init: str = "torch",
    seed: int = 0,
) -> ScaledShortcutMLP:
    """A seeded classifier of ``n_linear`` Linear layers: ``n_linear - 1`` hidden ones, then the output.

    Every hidden layer is followed by ``activation``; the output layer returns raw logits. ``init``
    names a scheme of :mod:`gradflow.init` (``"he"`` also zeroes the biases). The weights are drawn
    from PyTorch's generator seeded with ``seed``; the caller's random state is left untouched.
    """
    # the layers check their widths, init_weights the scheme
    check_positive_int(n_linear, "n_linear")
    sizes = [in_features] + [width] * (n_linear - 1) + [out_features]  # n_linear + 1 widths
    with seeded(seed):
        model = ScaledShortcutMLP(sizes, use_shortcut, activation, False, branch_scale)
        if init != "torch":
            init_weights(model, init)  # continues the same seeded draws
    return model


@dataclass(frozen=True)
class NetSpec:
    """Which classifier to build: depth, shortcuts, initialisation and branch scaling."""

    # hidden layers of `width` units (with shortcuts: residual blocks); depth + 1 Linear layers
    depth: int
    use_shortcut: bool = False  # wrap every hidden layer in a shortcut, x + scale * layer(x)
    # a scheme of gradflow.init: "torch" (PyTorch's default), "he" (zero biases)
    init: str = "torch"
    scale_branches: bool = False  # scale every residual branch by 1 / sqrt(depth)
    # units per hidden layer; 64 = the digits' features, so every layer has a shortcut
    width: int = 64
    activation: str = "relu"  # activation after every hidden layer (the output gives raw logits)

    def __post_init__(self):
        check_spec(self)  # a reader's spec is checked once, here

    @property
    def branch_scale(self) -> float:
        """The factor on every residual branch, 1 / sqrt(depth) when scaled and 1 otherwise."""
        return 1 / math.sqrt(self.depth) if self.scale_branches else 1.0

    @property
    def label(self) -> str:
        """A short name for legends and tables, e.g. 'residual, 32 layers'."""
        kind = "residual" if self.use_shortcut else "plain"
        return f"{kind}, {self.depth} layers"


def check_spec(spec: NetSpec) -> None:
    """Raise a clear error unless ``spec``'s depth and width are positive integers and its
    initialisation and activation are known."""
    check_positive_int(spec.depth, "depth")
    check_positive_int(spec.width, "width")
    if spec.init not in SCHEMES:
        raise ValueError(f"unknown init {spec.init!r}; choose one of {list(SCHEMES)}")
    check_activation(spec.activation)


def build_network(spec: NetSpec, seed: int, n_in: int = 64, n_out: int = 10) -> ScaledShortcutMLP:
    """Build the classifier ``spec`` describes: ``spec.depth`` hidden layers and an output layer."""
    return build_mlp(
        spec.depth + 1,  # n_linear: the depth hidden layers and the output layer
        spec.width,
        n_in,
        n_out,
        activation=spec.activation,
        use_shortcut=spec.use_shortcut,
        branch_scale=spec.branch_scale,
        init=spec.init,
        seed=seed,
    )
