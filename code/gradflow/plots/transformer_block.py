"""Figures of the chapter on the transformer block: its per-block profiles are drawn by
``gradflow.plots.style.plot_profiles``, in the colours of the two placements of the layer norm, and
the edge explorer (``gradflow.explorer``) shows the first block's gradient against the depth of the
stack, with a slider for the width and a menu for the layer norms' epsilon."""

import math
from collections.abc import Sequence

from gradflow.axes import Axis, decade, log_axis, sci
from gradflow.chart import Series, View
from gradflow.explorer import Explorer, Menu, Slider
from gradflow.plots.style import PALETTE, PLAIN, RESIDUAL

# the layer norm before the sub-layer (GPT-2's pre-LN) and after the addition (the original post-LN)
NORM_COLORS = {"pre-LN": PALETTE["green"], "post-LN": PALETTE["orange"]}


def edge_blocks(emb_dim: int, eps: float) -> float:
    """The depth L at which a sub-layer's output under GPT-2's initialisation, (0.02 sqrt(C))^2 /
    sqrt(2L), falls to sqrt(eps): L = (0.02 sqrt(C))^4 / (2 eps)."""
    return (0.02**2 * emb_dim) ** 2 / (2 * eps)


def _eps_text(eps: float) -> str:
    """10⁻⁵ for 1e-5; other values in three digits."""
    mantissa, exponent = f"{eps:.2e}".split("e")
    return decade(int(exponent)) if float(mantissa) == 1 else sci(eps)


def edge_explorer(points: Sequence, width: int | None = None, eps: float | None = None) -> Explorer:
    """The first block's gradient norm against the number of blocks, without and with shortcuts,
    under GPT-2's initialisation: a slider sets the width, a menu the layer norms' epsilon.
    ``points`` are ``gradflow.experiments.transformer_block.SweepPoint`` s (as ``epsilon_sweep``
    returns them) for every width, depth and epsilon, with and without shortcuts, each once."""
    grid = {}
    for p in points:
        key = (p.emb_dim, p.n_layers, p.eps, p.use_shortcut)
        g = p.gradient
        if not isinstance(g, (int, float)) or isinstance(g, bool) or not 0 < g < math.inf:
            raise ValueError(f"{key}: the gradient norm must be a finite number above 0, got {g!r}")
        if key in grid:
            raise ValueError(f"{key} is measured twice")
        grid[key] = float(p.gradient)
    if not grid:
        raise ValueError("points is empty: give the sweep's measurements")
    widths, depths, epsilons = (sorted({key[i] for key in grid}) for i in range(3))
    epsilons.reverse()  # the usual epsilon first, then the smaller ones
    missing = [
        (C, L, e, sc)
        for C in widths
        for L in depths
        for e in epsilons
        for sc in (False, True)
        if (C, L, e, sc) not in grid
    ]
    if missing:
        raise ValueError(f"{len(missing)} measurements missing from the grid, e.g. {missing[0]}")

    def caption(C: int, e: float) -> str:
        ratios = [grid[C, L, e, False] / grid[C, L, e, True] for L in depths]
        edge = edge_blocks(C, e)
        text = (
            f"Width {C}, ε = {_eps_text(e)}: a sub-layer's output falls below √ε beyond "
            f"{f'{edge:.1f}' if edge < 100 else f'{edge:,.0f}'} blocks. Without shortcuts the "
            "first block gets "
        )
        less = [r < 1 for r in ratios]
        if not any(less):
            text += f"more gradient than with them at every depth up to {depths[-1]} blocks"
        elif all(less[less.index(True) :]):
            text += f"less gradient than with them from {depths[less.index(True)]} blocks on"
        else:
            text += f"less gradient than with them at {sum(less)} of the {len(depths)} depths"
        r = ratios[-1]
        times = sci(r) if r < 0.01 or r >= 1000 else f"{r:#.3g}"
        return text + f"; at {depths[-1]} blocks, {times} times as much."

    views = {
        (C, e): View(
            caption(C, e),
            {
                "without": [grid[C, L, e, False] for L in depths],
                "with": [grid[C, L, e, True] for L in depths],
            },
            x=depths,
        )
        for C in widths
        for e in epsilons
    }
    x = Axis("blocks in the stack", 0, depths[-1], ticks=[(L, str(L)) for L in depths])
    return Explorer(
        [
            Slider("width", "Width", widths, [f"C = {C}" for C in widths]),
            Menu("eps", "Layer norm", {e: f"ε = {_eps_text(e)}" for e in epsilons}),
        ],
        [
            Series("without", "without shortcuts", PLAIN),
            Series("with", "with shortcuts", RESIDUAL, dash="7 4"),
        ],
        views,
        x=x,
        y=log_axis("first block's gradient norm", list(grid.values())),  # one for every state
        start={"width": width or widths[len(widths) // 2], "eps": eps or epsilons[0]},
        alt="Line chart, logarithmic vertical axis: the norm of the first block's weight gradient "
        "under GPT-2's initialisation against the number of blocks in the stack, without shortcuts "
        "(vermilion, solid) and with them (blue, dashed), for the width and layer-norm epsilon "
        "that the controls set",
    )
