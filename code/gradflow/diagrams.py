"""Diagrams drawn in code: a network's layers as boxes, with its shortcut connections as arcs."""

import matplotlib.pyplot as plt
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

from gradflow._checks import check_layer_sizes
from gradflow.plots import PLAIN, RESIDUAL, book_style, finish

_INK = "#222222"


def _draw_network(ax, sizes: list[int], use_shortcut: bool, title: str) -> None:
    """Draw one network on ``ax``: input, one box per layer, output, and arcs for shortcuts."""
    n = len(sizes) - 1
    step = 1.6
    box_w, box_h = 1.05, 0.9
    colour = RESIDUAL if use_shortcut else PLAIN
    xs = [step * (i + 1) for i in range(n)]
    ax.text(0, 0, f"input\n$x$ ({sizes[0]})", ha="center", va="center", fontsize=10, color=_INK)
    for i, xc in enumerate(xs):
        box = FancyBboxPatch(
            (xc - box_w / 2, -box_h / 2), box_w, box_h,
            boxstyle="round,pad=0.04,rounding_size=0.12",
            facecolor="#f2f2f2", edgecolor=_INK, linewidth=1.2,
        )  # fmt: skip
        ax.add_patch(box)
        ax.text(xc, 0.12, f"Linear\n{sizes[i]}→{sizes[i + 1]}", ha="center", va="center",
                fontsize=8.5, color=_INK)  # fmt: skip
        ax.text(xc, -0.27, "GELU", ha="center", va="center", fontsize=8.5, color=_INK)
    x_out = step * (n + 1)
    ax.text(x_out, 0, f"output\n({sizes[-1]})", ha="center", va="center", fontsize=10, color=_INK)
    # the main path: arrows between consecutive stations
    stations = [0.0, *xs, x_out]
    for a, b in zip(stations[:-1], stations[1:], strict=True):
        start = a + (0.45 if a == 0 else box_w / 2)
        end = b - (0.5 if b == x_out else box_w / 2)
        ax.add_patch(FancyArrowPatch((start, 0), (end, 0), arrowstyle="-|>", mutation_scale=12,
                                     color=_INK, linewidth=1.2))  # fmt: skip
    # the shortcuts: from just before a layer to the sum just after it
    for i, xc in enumerate(xs):
        if not use_shortcut:
            continue
        if sizes[i] != sizes[i + 1]:
            ax.text(xc, box_h / 2 + 0.25, f"{sizes[i]}≠{sizes[i + 1]}: no shortcut", ha="center",
                    va="center", fontsize=8.5, color=_INK, style="italic")  # fmt: skip
            continue
        a, b = xc - step / 2 + 0.2, xc + step / 2
        top = box_h / 2 + 0.3
        ax.plot([a, a, b], [0, top, top], color=colour, linewidth=2.2, solid_capstyle="round")
        ax.add_patch(FancyArrowPatch((b, top), (b, 0.14), arrowstyle="-|>", mutation_scale=13,
                                     color=colour, linewidth=2.2))  # fmt: skip
        ax.text(b, 0.0, "+", ha="center", va="center", fontsize=12, fontweight="bold",
                color=colour, bbox=dict(boxstyle="circle,pad=0.15", fc="white", ec=colour))  # fmt: skip
    ax.set_title(title, loc="left", fontsize=11, color=colour, fontweight="bold")
    ax.set_xlim(-0.7, x_out + 0.7)
    ax.set_ylim(-0.7, 1.25)
    ax.set_aspect("equal")
    ax.axis("off")


def network_diagram(layer_sizes: list[int]) -> plt.Figure:
    """The network drawn twice, without and with shortcuts: boxes for layers, arcs for shortcuts."""
    sizes = check_layer_sizes(layer_sizes)
    with book_style():
        fig, axes = plt.subplots(2, 1, figsize=(1.45 * (len(sizes) + 1), 4.4))
        _draw_network(axes[0], sizes, False, "Without shortcuts: each layer feeds the next")
        _draw_network(axes[1], sizes, True, "With shortcuts: x + layer(x) where the widths match")
    return finish(fig)
