"""Diagrams drawn in code: a network's layers as boxes with its shortcuts as arcs; the transformer block."""

from collections.abc import Sequence

import matplotlib.pyplot as plt
from matplotlib.patches import Circle, FancyArrowPatch, FancyBboxPatch

from gradflow._checks import check_layer_sizes
from gradflow.plots.style import PLAIN, RESIDUAL, book_style, finish

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


# ---- the transformer block ---------------------------------------------------------------------

_FILL = {"norm": "#FBE8B4", "attn": "#CFE3F3", "ff": "#CDEBDF", "drop": "#EEEEEE"}


_STEPS = {
    # (kind, label) from the input upwards; "add" is the junction where a shortcut rejoins
    "pre": [
        ("norm", "LayerNorm 1"),
        ("attn", "Masked multi-head\nattention"),
        ("drop", "Dropout"),
        ("add", "+"),
        ("norm", "LayerNorm 2"),
        ("ff", "Feed forward\nC → 4C → C, GELU"),
        ("drop", "Dropout"),
        ("add", "+"),
    ],
    "post": [
        ("attn", "Masked multi-head\nattention"),
        ("drop", "Dropout"),
        ("add", "+"),
        ("norm", "LayerNorm 1"),
        ("ff", "Feed forward\nC → 4C → C, GELU"),
        ("drop", "Dropout"),
        ("add", "+"),
        ("norm", "LayerNorm 2"),
    ],
}


_TITLES = {"pre": "Pre-LN (GPT-2)", "post": "Post-LN (original Transformer)"}


def _draw_block(ax: plt.Axes, norm: str) -> None:
    """Draw one block, input at the bottom, its shortcut paths in the book's residual colour."""
    steps = _STEPS[norm]
    dy, box_w, box_h, r = 1.0, 2.6, 0.62, 0.22
    ys = [1.0 + i * dy for i in range(len(steps))]
    y_in, y_out = 0.0, ys[-1] + dy
    ink = "#222222"
    arrow = {"arrowstyle": "-|>", "color": ink, "lw": 1.3, "shrinkA": 0, "shrinkB": 0}

    def bottom(i):
        return ys[i] - (r if steps[i][0] == "add" else box_h / 2)

    def top(i):
        return ys[i] + (r if steps[i][0] == "add" else box_h / 2)

    # the main path, bottom to top
    ax.text(0, y_in - 0.05, "input  (B, T, C)", ha="center", va="top", fontsize=10)
    ax.annotate("", xy=(0, bottom(0)), xytext=(0, y_in), arrowprops=arrow)
    for i in range(len(steps) - 1):
        ax.annotate("", xy=(0, bottom(i + 1)), xytext=(0, top(i)), arrowprops=arrow)
    ax.annotate("", xy=(0, y_out), xytext=(0, top(len(steps) - 1)), arrowprops=arrow)
    ax.text(0, y_out + 0.05, "output  (B, T, C)", ha="center", va="bottom", fontsize=10)

    # boxes and junctions
    for (kind, label), y in zip(steps, ys, strict=True):
        if kind == "add":
            ax.add_patch(Circle((0, y), r, facecolor="white", edgecolor=RESIDUAL, lw=2.2, zorder=3))
            ax.text(0, y, "+", ha="center", va="center", fontsize=14, color=RESIDUAL, zorder=4)
        else:
            ax.add_patch(
                FancyBboxPatch(
                    (-box_w / 2, y - box_h / 2),
                    box_w,
                    box_h,
                    boxstyle="round,pad=0.02,rounding_size=0.12",
                    facecolor=_FILL[kind],
                    edgecolor=ink,
                    lw=1.0,
                    zorder=3,
                )
            )
            ax.text(0, y, label, ha="center", va="center", fontsize=9, zorder=4)

    # the shortcuts: from the stream just before each sub-layer's first step to its junction
    adds = [i for i, (kind, _) in enumerate(steps) if kind == "add"]
    firsts = [0, len(steps) // 2]  # each sub-layer group is half of the steps
    x_side = -box_w / 2 - 0.55
    for k, (i_first, i_add) in enumerate(zip(firsts, adds, strict=True)):
        below = y_in if i_first == 0 else top(i_first - 1)
        y0, y1 = (below + bottom(i_first)) / 2, ys[i_add]
        ax.plot([0, x_side, x_side], [y0, y0, y1], color=RESIDUAL, lw=2.6, solid_capstyle="round")
        ax.plot(0, y0, "o", color=RESIDUAL, markersize=5)
        ax.annotate(
            "",
            xy=(-r, y1),
            xytext=(x_side, y1),
            arrowprops={**arrow, "color": RESIDUAL, "lw": 2.6},
        )
        ax.text(
            x_side - 0.12,
            (y0 + y1) / 2,
            f"shortcut {k + 1}",
            rotation=90,
            ha="right",
            va="center",
            color=RESIDUAL,
            fontsize=10,
            fontweight="bold",
        )
    ax.set_title(_TITLES[norm])
    ax.set_xlim(-box_w / 2 - 1.2, box_w / 2 + 0.3)
    ax.set_ylim(y_in - 0.6, y_out + 0.6)
    ax.set_aspect("equal")
    ax.axis("off")


def block_diagram(norms: Sequence[str] = ("pre",)) -> plt.Figure:
    """A diagram of the transformer block for each norm placement, shortcuts highlighted."""
    if isinstance(norms, str):
        norms = [norms]
    if not norms:
        raise ValueError("norms is empty: give 'pre', 'post' or both")
    for norm in norms:
        if norm not in _STEPS:
            raise ValueError(f"unknown norm placement {norm!r}; choose one of {sorted(_STEPS)}")
    with book_style():
        fig, axes = plt.subplots(1, len(norms), figsize=(3.4 * len(norms), 6.2), squeeze=False)
        for ax, norm in zip(axes[0], norms, strict=True):
            _draw_block(ax, norm)
    return finish(fig)


# ---- the unrolled view of a residual network -----------------------------------------------------


def paths_diagram(n_blocks: int = 3) -> plt.Figure:
    """The ``2**n_blocks`` paths of a residual network of ``n_blocks`` blocks, one row each.

    Every path runs from the input ``x`` to the output; at block ``l`` it either skips (a plain
    line: the shortcut) or passes through the branch (a box ``F_l``). The rows are grouped by
    length, the number of branches a path passes through, and each row says its length.
    """
    if isinstance(n_blocks, bool) or not isinstance(n_blocks, int):
        raise TypeError(f"n_blocks must be an int, got {type(n_blocks).__name__}")
    if not 1 <= n_blocks <= 4:
        raise ValueError(f"n_blocks must be 1 to 4 (2 to 16 paths fit a page), got {n_blocks}")
    # each path is the set of blocks whose branch it passes, ordered by length, then by its blocks
    paths = sorted(
        (tuple(b for b in range(n_blocks) if mask >> b & 1) for mask in range(2**n_blocks)),
        key=lambda through: (len(through), through),
    )
    step, box_w, box_h = 1.3, 0.8, 0.62
    with book_style():
        x_span, y_span = step * (n_blocks + 1) + 2.6, len(paths) + 0.8  # the limits set below
        height = 0.42 * len(paths) + 0.9
        fig, ax = plt.subplots(figsize=(height * x_span / y_span + 0.3, height))
        for row, through in enumerate(paths):
            y = -row
            x_out = step * (n_blocks + 1)
            ax.text(0, y, "$x$", ha="center", va="center", fontsize=11, color=_INK)
            ax.plot([0.25, x_out - 0.4], [y, y], color="#888888", linewidth=1.0, zorder=1)
            ax.add_patch(FancyArrowPatch((x_out - 0.6, y), (x_out - 0.3, y), arrowstyle="-|>",
                                         mutation_scale=10, color="#888888"))  # fmt: skip
            ax.text(x_out, y, "out", ha="left", va="center", fontsize=9, color=_INK)
            for block in through:
                xc = step * (block + 1)
                ax.add_patch(FancyBboxPatch(
                    (xc - box_w / 2, y - box_h / 2), box_w, box_h,
                    boxstyle="round,pad=0.02,rounding_size=0.08",
                    facecolor="#CFE3F3", edgecolor=RESIDUAL, linewidth=1.2, zorder=2,
                ))  # fmt: skip
                ax.text(xc, y, f"$F_{block + 1}$", ha="center", va="center", fontsize=10,
                        color=_INK, zorder=3)  # fmt: skip
            ax.text(x_out + 0.75, y, f"length {len(through)}", ha="left", va="center",
                    fontsize=9, color=_INK)  # fmt: skip
        for block in range(n_blocks):
            ax.text(step * (block + 1), 0.75, f"block {block + 1}", ha="center", va="bottom",
                    fontsize=9, color=_INK)  # fmt: skip
        ax.set_xlim(-0.4, step * (n_blocks + 1) + 2.2)
        ax.set_ylim(-len(paths) + 0.4, 1.2)
        ax.set_aspect("equal")
        ax.axis("off")
    return finish(fig)
