"""The GPT-2 model: config, parts, transformer blocks and the small ``GPTModel`` built from them.

The block follows GPT-2 (Radford et al., 2019) as rebuilt in Raschka, *Build a Large Language Model
(From Scratch)*, chapter 4. We use pre-LN: each sub-layer normalises its *input*, and the shortcut
adds the raw, un-normalised input back (``x = x + drop(attn(norm1(x)))``).
``PostLNTransformerBlock`` has the ordering of the original Transformer (Vaswani et al., 2017),
where the normalisation comes *after* the addition; Xiong et al. (2020) compare the two. Both
blocks can drop their shortcuts (``use_shortcut=False``) so that a lesson can measure what the
shortcuts do.
"""

import math
from dataclasses import dataclass

import torch
from torch import nn

from gradflow._checks import check_positive_int
from gradflow.init import SCHEMES, init_weights

GPT2_STD = 0.02  # GPT-2's standard deviation for every weight matrix and embedding
INITS = (*SCHEMES, "gpt2")  # GPTModel's initialisations: gradflow.init's schemes and GPT-2's own


@dataclass(frozen=True)
class GPTConfig:
    """Sizes of a GPT-2 model; the defaults are GPT-2 small (124M parameters)."""

    vocab_size: int = 50257  # number of distinct token ids (GPT-2's byte-pair vocabulary)
    context_length: int = 1024  # longest sequence the model accepts, in tokens
    emb_dim: int = 768  # width C of the residual stream: every token is a vector of this size
    n_heads: int = 12  # attention heads; emb_dim must be divisible by it
    n_layers: int = 12  # transformer blocks stacked on top of each other
    drop_rate: float = 0.1  # dropout probability on attention weights and on both sub-layer outputs
    qkv_bias: bool = False  # whether the query, key and value projections have a bias

    def __post_init__(self):
        check_sizes(self)  # a reader's config is checked once, here

    @property
    def head_dim(self) -> int:
        """Features per attention head."""
        return self.emb_dim // self.n_heads


def check_sizes(cfg: GPTConfig) -> None:
    """Raise a clear error unless ``cfg``'s sizes are positive integers, its heads divide its
    width, its dropout rate lies in [0, 1) and ``qkv_bias`` is a bool."""
    for name in ("vocab_size", "context_length", "emb_dim", "n_heads", "n_layers"):
        check_positive_int(getattr(cfg, name), name)
    if cfg.emb_dim % cfg.n_heads != 0:  # each head gets emb_dim // n_heads features
        raise ValueError(f"emb_dim ({cfg.emb_dim}) must be divisible by n_heads ({cfg.n_heads})")
    rate = cfg.drop_rate
    if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0 <= rate < 1:
        raise ValueError(f"drop_rate must be a number in [0, 1), got {rate!r}")
    if not isinstance(cfg.qkv_bias, bool):
        raise TypeError(f"qkv_bias must be a bool, got {type(cfg.qkv_bias).__name__}")


def check_config(cfg) -> GPTConfig:
    """Return ``cfg`` if it is a GPTConfig; raise a clear error otherwise."""
    if not isinstance(cfg, GPTConfig):
        raise TypeError(f"cfg must be a GPTConfig, got {type(cfg).__name__}")
    return cfg


class LayerNorm(nn.Module):
    """Layer normalisation over the last axis, with a learnable scale and shift."""

    def __init__(self, emb_dim: int, eps: float = 1e-5):
        super().__init__()
        self.eps = eps  # keeps the division finite when a token's features are all equal
        self.scale = nn.Parameter(torch.ones(emb_dim))  # gamma, starts as 1
        self.shift = nn.Parameter(torch.zeros(emb_dim))  # beta, starts as 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mean = x.mean(dim=-1, keepdim=True)  # (B, T, 1)
        var = x.var(dim=-1, keepdim=True, unbiased=False)  # biased: divide by C, as torch does
        x_hat = (x - mean) / torch.sqrt(var + self.eps)  # (B, T, C), mean 0 and variance 1
        return self.scale * x_hat + self.shift


class GELU(nn.Module):
    """The GELU activation in the tanh approximation that GPT-2 uses."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        c = math.sqrt(2.0 / math.pi)
        return 0.5 * x * (1.0 + torch.tanh(c * (x + 0.044715 * x**3)))


class FeedForward(nn.Module):
    """Position-wise feed-forward network: widen to 4 * emb_dim, GELU, project back."""

    def __init__(self, cfg: GPTConfig):
        super().__init__()
        self.c_fc = nn.Linear(cfg.emb_dim, 4 * cfg.emb_dim)  # widens, GPT-2's name for it
        self.gelu = GELU()
        self.c_proj = nn.Linear(4 * cfg.emb_dim, cfg.emb_dim)  # projects back into the stream

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.gelu(self.c_fc(x))  # (B, T, 4C)
        return self.c_proj(x)  # (B, T, C)


class CausalSelfAttention(nn.Module):
    """Multi-head self-attention in which each token attends only to itself and earlier tokens."""

    def __init__(self, cfg: GPTConfig):
        super().__init__()
        self.cfg = cfg
        C = cfg.emb_dim
        self.query = nn.Linear(C, C, bias=cfg.qkv_bias)
        self.key = nn.Linear(C, C, bias=cfg.qkv_bias)
        self.value = nn.Linear(C, C, bias=cfg.qkv_bias)
        self.out_proj = nn.Linear(C, C)  # mixes the heads' outputs back into one C-wide vector
        self.drop_attn = nn.Dropout(cfg.drop_rate)  # drops attention weights while training

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, T, C = x.shape
        nh, hs = self.cfg.n_heads, self.cfg.head_dim
        q = self.query(x).view(B, T, nh, hs).transpose(1, 2)  # (B, nh, T, hs)
        k = self.key(x).view(B, T, nh, hs).transpose(1, 2)  # (B, nh, T, hs)
        v = self.value(x).view(B, T, nh, hs).transpose(1, 2)  # (B, nh, T, hs)
        scores = q @ k.transpose(-2, -1) / math.sqrt(hs)  # (B, nh, T, T)
        future = torch.ones(T, T, dtype=torch.bool, device=x.device).triu(diagonal=1)
        scores = scores.masked_fill(future, float("-inf"))  # token t cannot see tokens after t
        weights = self.drop_attn(torch.softmax(scores, dim=-1))  # (B, nh, T, T), rows sum to 1
        out = weights @ v  # (B, nh, T, hs)
        out = out.transpose(1, 2).reshape(B, T, C)  # (B, T, C): heads side by side again
        return self.out_proj(out)


class TransformerBlock(nn.Module):
    """GPT-2's transformer block, pre-LN: each sub-layer sees a normalised copy of the stream."""

    def __init__(self, cfg: GPTConfig, use_shortcut: bool = True):
        super().__init__()
        self.cfg = cfg
        self.use_shortcut = bool(use_shortcut)
        self.norm1 = LayerNorm(cfg.emb_dim)
        self.attn = CausalSelfAttention(cfg)
        self.norm2 = LayerNorm(cfg.emb_dim)
        self.ff = FeedForward(cfg)
        self.drop_shortcut = nn.Dropout(cfg.drop_rate)  # on each sub-layer's output, before the add

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # (B, T, C) in, (B, T, C) out
        # Shortcut 1, around the attention sub-layer
        shortcut = x
        x = self.norm1(x)
        x = self.attn(x)
        x = self.drop_shortcut(x)
        if self.use_shortcut:
            x = x + shortcut

        # Shortcut 2, around the feed-forward sub-layer
        shortcut = x
        x = self.norm2(x)
        x = self.ff(x)
        x = self.drop_shortcut(x)
        if self.use_shortcut:
            x = x + shortcut
        return x


class PostLNTransformerBlock(TransformerBlock):
    """The original Transformer's post-LN ordering: add the shortcut first, then normalise."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # (B, T, C) in, (B, T, C) out
        shortcut = x
        x = self.attn(x)
        x = self.drop_shortcut(x)
        if self.use_shortcut:
            x = x + shortcut
        x = self.norm1(x)  # the normalisation sits on the stream itself, after the add

        shortcut = x
        x = self.ff(x)
        x = self.drop_shortcut(x)
        if self.use_shortcut:
            x = x + shortcut
        x = self.norm2(x)
        return x


BLOCKS = {"pre": TransformerBlock, "post": PostLNTransformerBlock}


def make_block(cfg: GPTConfig, norm: str = "pre", use_shortcut: bool = True) -> TransformerBlock:
    """A pre-LN (GPT-2) or post-LN (original Transformer) block, with or without its shortcuts."""
    if norm not in BLOCKS:
        raise ValueError(f"unknown norm placement {norm!r}; choose one of {sorted(BLOCKS)}")
    return BLOCKS[norm](cfg, use_shortcut=use_shortcut)


class GPTModel(nn.Module):
    """A small GPT: embeddings, ``n_layers`` pre-LN or post-LN blocks, and an output layer."""

    def __init__(
        self, cfg: GPTConfig, norm: str = "pre", use_shortcut: bool = True, init: str = "torch"
    ):
        super().__init__()
        check_config(cfg)
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
        # redraw from the caller's generator, right after construction
        if init == "gpt2":
            init_gpt2(self)
        elif init != "torch":
            init_weights(self, init)

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        B, T = idx.shape
        if T > self.cfg.context_length:  # nn.Embedding rejects token ids outside the vocabulary
            raise ValueError(
                f"{T} tokens are longer than the context length {self.cfg.context_length}"
            )
        pos = torch.arange(T, device=idx.device)
        x = self.drop_emb(self.tok_emb(idx) + self.pos_emb(pos))  # (B, T, C)
        for block in self.blocks:
            x = block(x)  # (B, T, C)
        return self.out_head(self.final_norm(x))  # (B, T, vocab_size)


def out_projections(model: GPTModel) -> list[nn.Linear]:
    """Each block's two output projections, which write into the stream: ``out_proj`` and ``c_proj``."""
    return [p for b in model.blocks for p in (b.attn.out_proj, b.ff.c_proj)]


@torch.no_grad()
def init_gpt2(model: GPTModel) -> GPTModel:
    """GPT-2's initialisation, as nanoGPT's ``_init_weights`` plus its ``c_proj`` rescaling."""
    for m in model.modules():
        if isinstance(m, (nn.Linear, nn.Embedding)):
            nn.init.normal_(m.weight, mean=0.0, std=GPT2_STD)
        if isinstance(m, nn.Linear) and m.bias is not None:
            nn.init.zeros_(m.bias)
        if isinstance(m, LayerNorm):
            nn.init.ones_(m.scale)
            nn.init.zeros_(m.shift)
    for proj in out_projections(model):  # each block adds two branches to the stream: 2L in all
        nn.init.normal_(proj.weight, mean=0.0, std=GPT2_STD / math.sqrt(2 * len(model.blocks)))
    return model


def count_parameters(module: nn.Module) -> int:
    """Number of trainable scalars in ``module``."""
    if not isinstance(module, nn.Module):
        raise TypeError(f"module must be a torch.nn.Module, got {type(module).__name__}")
    return sum(p.numel() for p in module.parameters() if p.requires_grad)
