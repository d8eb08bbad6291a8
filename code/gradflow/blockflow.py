"""Gradient flow through stacks of transformer blocks, and the figures of the transformer lesson.

``BlockStack`` is a small GPT: token and position embeddings, a stack of blocks from
``gradflow.gpt``, a final layer norm (pre-LN only) and an output layer. ``block_gradient_norms``
runs one next-token-prediction backward pass and reports, block by block, the norm of the gradient
that reaches the block's weights. ``block_diagram`` draws a block with its two shortcut paths.
"""

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.patches import Circle, FancyBboxPatch
from matplotlib.ticker import MaxNLocator
from torch import nn

from gradflow._checks import check_positive_int
from gradflow.gpt import BLOCKS, GPTConfig, LayerNorm, make_block
from gradflow.plots import MARKERS, PALETTE, RESIDUAL, book_style, finish

PARTS = ("block", "ff_out")  # what block_gradient_norms measures in each block
INITS = ("torch", "xavier")  # PyTorch's default initialisation, or Xavier-normal weights


class BlockStack(nn.Module):
    """A small GPT: embeddings, ``n_layers`` pre-LN or post-LN blocks, and an output layer."""

    def __init__(
        self, cfg: GPTConfig, norm: str = "pre", use_shortcut: bool = True, init: str = "torch"
    ):
        super().__init__()
        if not isinstance(cfg, GPTConfig):
            raise TypeError(f"cfg must be a GPTConfig, got {type(cfg).__name__}")
        if init not in INITS:
            raise ValueError(f"unknown init {init!r}; choose one of {list(INITS)}")
        self.cfg = cfg
        self.tok_emb = nn.Embedding(cfg.vocab_size, cfg.emb_dim)
        self.pos_emb = nn.Embedding(cfg.context_length, cfg.emb_dim)
        self.drop_emb = nn.Dropout(cfg.drop_rate)
        self.blocks = nn.ModuleList(
            make_block(cfg, norm, use_shortcut) for _ in range(cfg.n_layers)
        )
        # GPT-2 normalises once more after its last pre-LN block; post-LN blocks already end in one
        self.final_norm = LayerNorm(cfg.emb_dim) if norm == "pre" else nn.Identity()
        self.out_head = nn.Linear(cfg.emb_dim, cfg.vocab_size, bias=False)
        if init == "xavier":  # Xiong et al.'s analysis: Xavier-normal matrices, zero biases
            for module in self.modules():
                if isinstance(module, nn.Linear):
                    nn.init.xavier_normal_(module.weight)
                    if module.bias is not None:
                        nn.init.zeros_(module.bias)

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        check_tokens(idx, self.cfg)
        B, T = idx.shape
        pos = torch.arange(T, device=idx.device)
        x = self.drop_emb(self.tok_emb(idx) + self.pos_emb(pos))  # (B, T, C)
        for block in self.blocks:
            x = block(x)  # (B, T, C)
        return self.out_head(self.final_norm(x))  # (B, T, vocab_size)


def check_tokens(idx, cfg: GPTConfig, name: str = "idx") -> torch.Tensor:
    """Return ``idx`` if it is a (batch, tokens) tensor of ids that fit the vocabulary and context."""
    if not isinstance(idx, torch.Tensor) or idx.dtype != torch.long:
        raise TypeError(f"{name} must be a torch.Tensor of token ids (dtype torch.long)")
    if idx.dim() != 2:
        raise ValueError(f"{name} must have 2 dimensions (batch, tokens), got {tuple(idx.shape)}")
    if idx.shape[1] > cfg.context_length:
        raise ValueError(
            f"sequence of {idx.shape[1]} tokens is longer than the context length "
            f"{cfg.context_length}"
        )
    if idx.numel() and (idx.min() < 0 or idx.max() >= cfg.vocab_size):
        raise ValueError(
            f"{name} holds token ids outside the vocabulary 0..{cfg.vocab_size - 1}: "
            f"from {idx.min().item()} to {idx.max().item()}"
        )
    return idx


def random_tokens(cfg: GPTConfig, batch_size: int, seq_len: int, seed: int) -> torch.Tensor:
    """A (batch_size, seq_len + 1) tensor of uniformly random token ids from a seeded generator."""
    check_positive_int(batch_size, "batch_size")
    check_positive_int(seq_len, "seq_len")
    if seq_len > cfg.context_length:
        raise ValueError(
            f"seq_len {seq_len} is longer than the context length {cfg.context_length}"
        )
    gen = torch.Generator().manual_seed(seed)
    return torch.randint(cfg.vocab_size, (batch_size, seq_len + 1), generator=gen)


def block_gradient_norms(
    model: BlockStack, tokens: torch.Tensor, part: str = "block"
) -> list[float]:
    """One next-token backward pass; then, per block, the norm of its weight gradient.

    ``part="block"`` takes the Frobenius norm over all the block's weight matrices together;
    ``part="ff_out"`` only that of the feed-forward network's second matrix, Xiong et al.'s measure.
    """
    if not isinstance(model, BlockStack):
        raise TypeError(f"model must be a BlockStack, got {type(model).__name__}")
    if part not in PARTS:
        raise ValueError(f"unknown part {part!r}; choose one of {list(PARTS)}")
    if not isinstance(tokens, torch.Tensor) or tokens.dim() != 2 or tokens.shape[1] < 2:
        shape = tuple(tokens.shape) if isinstance(tokens, torch.Tensor) else type(tokens).__name__
        raise ValueError(f"tokens must have shape (batch, seq_len + 1), got {shape}")
    check_tokens(tokens[:, :-1], model.cfg, "tokens")
    check_tokens(tokens[:, 1:], model.cfg, "tokens")
    model.zero_grad(set_to_none=True)
    logits = model(tokens[:, :-1])  # (B, T, vocab_size): a prediction of the next token everywhere
    targets = tokens[:, 1:]  # (B, T)
    loss = nn.functional.cross_entropy(logits.flatten(0, 1), targets.flatten())
    loss.backward()
    norms = []
    for block in model.blocks:
        if part == "ff_out":
            grads = [block.ff.layers[2].weight.grad]
        else:
            grads = [p.grad for n, p in block.named_parameters() if n.endswith("weight")]
            grads = [g for g in grads if g.dim() == 2]  # the matrices, not the norms' scales
        norms.append(torch.sqrt(sum((g**2).sum() for g in grads)).item())
    return norms


def gradient_profile_at_init(
    cfg: GPTConfig,
    norm: str = "pre",
    use_shortcut: bool = True,
    part: str = "block",
    init: str = "torch",
    seeds: Sequence[int] = (0, 1, 2),
    batch_size: int = 8,
    seq_len: int = 32,
) -> np.ndarray:
    """Per-block gradient norms at initialisation, averaged over freshly initialised models."""
    if norm not in BLOCKS:
        raise ValueError(f"unknown norm placement {norm!r}; choose one of {sorted(BLOCKS)}")
    if len(seeds) == 0:
        raise ValueError("seeds is empty: give at least one seed")
    runs = []
    for seed in seeds:
        torch.manual_seed(seed)
        model = BlockStack(cfg, norm=norm, use_shortcut=use_shortcut, init=init)
        tokens = random_tokens(cfg, batch_size, seq_len, seed=1000 + seed)
        runs.append(block_gradient_norms(model, tokens, part=part))
    return np.mean(runs, axis=0)


@torch.no_grad()
def token_similarity(model: BlockStack, tokens: torch.Tensor) -> float:
    """Mean cosine similarity between different positions' vectors after the last block."""
    if not isinstance(model, BlockStack):
        raise TypeError(f"model must be a BlockStack, got {type(model).__name__}")
    check_tokens(tokens, model.cfg, "tokens")
    if tokens.shape[1] < 2:
        raise ValueError(f"tokens must have shape (batch, seq_len >= 2), got {tuple(tokens.shape)}")
    T = tokens.shape[1]
    x = model.tok_emb(tokens) + model.pos_emb(torch.arange(T))  # (B, T, C)
    for block in model.blocks:
        x = block(x)  # (B, T, C)
    unit = nn.functional.normalize(x, dim=-1)
    cos = unit @ unit.transpose(1, 2)  # (B, T, T): cosine between every pair of positions
    off_diagonal = ~torch.eye(T, dtype=torch.bool)
    return cos[:, off_diagonal].mean().item()


@torch.no_grad()
def norm_input_scales(model: BlockStack, tokens: torch.Tensor) -> list[float]:
    """Per-token standard deviation of what enters each block's two layer norms, in order."""
    if not isinstance(model, BlockStack):
        raise TypeError(f"model must be a BlockStack, got {type(model).__name__}")
    scales = []

    def record(module, inputs, output):
        scales.append(inputs[0].std(dim=-1, unbiased=False).mean().item())  # mean over (B, T)

    norms = [norm for block in model.blocks for norm in (block.norm1, block.norm2)]
    handles = [norm.register_forward_hook(record) for norm in norms]
    try:
        model(tokens)
    finally:
        for handle in handles:
            handle.remove()
    return scales


def plot_profiles(
    panels: dict[str, dict[str, Sequence[float]]],
    colors: dict[str, str],
    ylabel: str = "gradient norm",
    xlabel: str = "block (1 = nearest the input)",
    figsize: tuple[float, float] | None = None,
) -> plt.Figure:
    """One panel per entry of ``panels``: each series is a per-block profile, log scale."""
    if not panels:
        raise ValueError("panels is empty: give at least one panel of profiles")
    missing = {label for series in panels.values() for label in series} - set(colors)
    if missing:
        raise ValueError(f"no colour given for series {sorted(missing)}")
    dashes = ["-", "--", ":", "-."]
    figsize = figsize or (3.3 * len(panels) + 0.4, 3.4)
    with book_style():
        fig, axes = plt.subplots(1, len(panels), figsize=figsize, sharey=True, squeeze=False)
        for ax, (title, series) in zip(axes[0], panels.items(), strict=True):
            for j, (label, values) in enumerate(series.items()):
                blocks = np.arange(1, len(values) + 1)
                ax.plot(
                    blocks,
                    values,
                    color=colors[label],
                    marker=MARKERS[j % len(MARKERS)],
                    markersize=4 if len(values) <= 24 else 2.5,
                    linestyle=dashes[j % len(dashes)],
                    label=label,
                )
            ax.set_yscale("log")
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # blocks are whole numbers
            ax.set(title=title, xlabel=xlabel)
        axes[0, 0].set_ylabel(ylabel)
        axes[0, 0].legend()
    return finish(fig)


# ---- the block diagram --------------------------------------------------------------------------

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


NORM_COLORS = {"pre-LN": PALETTE["green"], "post-LN": PALETTE["orange"]}
