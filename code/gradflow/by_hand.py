"""The chapters' ideas written with torch alone, as each chapter's last exercise asks the reader to
write them: a sigmoid network and its gradient norms (vanishing_gradients), a residual layer
(shortcut_connections), a ReZero-gated network (why_residuals_work), GPT-2's pre-LN block from
``torch.nn``'s own parts (transformer_block) and the cosine between positions block by block
(training_transformers). Each solution shows its piece and compares it with the book's own code on
the same weights. This module imports torch alone, nothing of gradflow."""

import torch
from torch import nn


def sigmoid_net(depth, width=64, n_in=64, n_out=10):
    """depth Linear layers, a sigmoid after every one but the last."""
    sizes = [n_in] + [width] * (depth - 1)
    layers = []
    for n, m in zip(sizes[:-1], sizes[1:], strict=True):
        layers += [nn.Linear(n, m), nn.Sigmoid()]
    return nn.Sequential(*layers, nn.Linear(width, n_out))


def gradient_norms(model, x, y):
    """One backward pass; the norm of every Linear layer's weight gradient, input first."""
    model.zero_grad()
    nn.functional.cross_entropy(model(x), y).backward()
    return [m.weight.grad.norm().item() for m in model if isinstance(m, nn.Linear)]


class Residual(nn.Module):
    """A layer with a shortcut: x + GELU(W x + b)."""

    def __init__(self, width):
        super().__init__()
        self.linear = nn.Linear(width, width)
        self.gelu = nn.GELU(approximate="tanh")

    def forward(self, x):
        return x + self.gelu(self.linear(x))  # the branch, plus the input that skips it


class GatedMLP(nn.Module):
    """ReZero: every block adds its branch times a learnable scalar that starts at zero."""

    def __init__(self, width=64, blocks=8, classes=10):
        super().__init__()
        self.branches = nn.ModuleList(nn.Linear(width, width) for _ in range(blocks))
        self.out = nn.Linear(width, classes)
        self.gates = nn.Parameter(torch.zeros(blocks))  # one scalar per block

    def forward(self, h):
        for gate, branch in zip(self.gates, self.branches, strict=True):
            h = h + gate * torch.relu(branch(h))  # with the gate at 0 the block is the identity
        return self.out(h)


class PlainBlock(nn.Module):
    """GPT-2's pre-LN block from torch.nn's own parts."""

    def __init__(self, emb_dim: int, n_heads: int):
        super().__init__()
        self.norm1 = nn.LayerNorm(emb_dim)
        self.attn = nn.MultiheadAttention(emb_dim, n_heads, batch_first=True)
        self.norm2 = nn.LayerNorm(emb_dim)
        self.ff = nn.Sequential(
            nn.Linear(emb_dim, 4 * emb_dim),
            nn.GELU(approximate="tanh"),
            nn.Linear(4 * emb_dim, emb_dim),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        T = x.shape[1]  # x: (B, T, C)
        future = torch.ones(T, T, dtype=torch.bool).triu(diagonal=1)  # True: may not attend
        h = self.norm1(x)
        x = x + self.attn(h, h, h, attn_mask=future, need_weights=False)[0]  # shortcut 1
        return x + self.ff(self.norm2(x))  # shortcut 2


@torch.no_grad()
def position_cosines(model, tokens):
    """Mean cosine between different positions: of the embeddings, then after every block."""
    T = tokens.shape[1]
    x = model.tok_emb(tokens) + model.pos_emb(torch.arange(T))  # (B, T, C)
    states = [x]
    for block in model.blocks:
        x = block(x)  # (B, T, C)
        states.append(x)
    different = ~torch.eye(T, dtype=torch.bool)  # the pairs of two different positions
    means = []
    for x in states:
        unit = x / x.norm(dim=-1, keepdim=True)  # every position's vector, length one
        cosines = unit @ unit.transpose(1, 2)  # (B, T, T)
        means.append(cosines[:, different].mean().item())
    return means
