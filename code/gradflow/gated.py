"""A residual MLP with a learnable gate on every branch, initialised at zero (ReZero, SkipInit).

Bachlechner et al. (2020, *ReZero is All You Need*) and De & Smith (2020, *Batch Normalization
Biases Residual Blocks Towards the Identity Function in Deep Networks*, "SkipInit") multiply each
residual branch by a scalar ``alpha_l`` that is learned and starts at zero: ``x + alpha_l * F_l(x)``.
At initialisation every block is the identity, whatever the depth.
"""

import torch
from torch import nn

from gradflow._checks import check_tensor
from gradflow.mlp import ShortcutMLP


class GatedResidualMLP(ShortcutMLP):
    """A residual ReLU MLP whose blocks compute ``x + gate * layer(x)``, every gate starting at 0."""

    def __init__(self, layer_sizes: list[int], activation: str = "relu", gate_init: float = 0.0):
        super().__init__(
            layer_sizes, use_shortcut=True, activation=activation, last_activation=False
        )
        if isinstance(gate_init, bool) or not isinstance(gate_init, (int, float)):
            raise TypeError(f"gate_init must be a number, got {type(gate_init).__name__}")
        n_blocks = sum(self.has_shortcut(i) for i in range(len(self.layers)))
        if n_blocks == 0:
            raise ValueError(
                f"layer_sizes {layer_sizes} has no two equal neighbouring widths: no residual block"
            )
        self.gates = nn.Parameter(torch.full((n_blocks,), float(gate_init)))  # one scalar per block

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_tensor(x, "x", width=self.layer_sizes[0])
        block = 0
        for i, layer in enumerate(self.layers):
            if self.has_shortcut(i):
                shortcut = x
                x = shortcut + self.gates[block] * layer(x)  # at gate 0 the block is the identity
                block += 1
            else:
                x = layer(x)
        return x
