"""Plain and residual multilayer perceptrons.

``ShortcutMLP`` is the five-layer demonstration network of Raschka, *Build a Large Language Model
(From Scratch)*, chapter 4, generalised to any list of layer sizes and any activation: every layer is a
``Linear`` followed by an activation, and with ``use_shortcut=True`` a layer adds its input to its
output (``x + layer(x)``) wherever the two have the same shape.
"""

import torch
from torch import nn

from gradflow._checks import check_layer_sizes, check_tensor

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
        check_tensor(x, "x", width=self.layer_sizes[0])
        for layer in self.layers:
            shortcut = x
            x = layer(x)
            if self.use_shortcut and x.shape == shortcut.shape:
                x = x + shortcut  # the shortcut: the layer's input skips ahead and is added back
        return x
