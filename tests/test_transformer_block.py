"""Protects the transformer lesson's code (gradflow.gpt.GPTModel, the block measurements of
gradflow.gradients, gradflow.experiments.transformer_block, the block diagram): the small GPT has the right shapes, the per-block gradient norms are
the norms of the gradients autograd computes, the similarity measure is right on hand-made cases,
the figures draw, the edge explorer carries every measurement of the sweep and says each state in
words, and bad arguments are refused with a message that names the problem."""

import gzip
from dataclasses import replace

import matplotlib.pyplot as plt
import pytest
import torch
from bs4 import BeautifulSoup

import gradflow.experiments.transformer_block as experiment
from gradflow.diagrams import block_diagram
from gradflow.experiments.transformer_block import gradient_profile_at_init, random_tokens
from gradflow.gpt import GPTConfig, GPTModel, PostLNTransformerBlock, TransformerBlock
from gradflow.gradients import (
    block_gradient_norms,
    norm_input_scales,
    stream_gradient_norms,
    token_similarity,
)
from gradflow.plots.style import plot_profiles
from gradflow.plots.transformer_block import edge_blocks, edge_explorer
from svg_paths import points as path_points
from svg_paths import top_of

CFG = GPTConfig(vocab_size=13, context_length=8, emb_dim=8, n_heads=2, n_layers=3, drop_rate=0.0)


@pytest.mark.parametrize(
    "norm,block_type", [("pre", TransformerBlock), ("post", PostLNTransformerBlock)]
)
@pytest.mark.parametrize("use_shortcut", [True, False])
def test_stack_shapes_and_blocks(norm, block_type, use_shortcut):
    torch.manual_seed(0)
    model = GPTModel(CFG, norm=norm, use_shortcut=use_shortcut)
    assert len(model.blocks) == 3
    assert all(type(b) is block_type and b.use_shortcut == use_shortcut for b in model.blocks)
    tokens = random_tokens(CFG, batch_size=2, seq_len=5, seed=0)
    assert tokens.shape == (2, 6) and int(tokens.max()) < CFG.vocab_size
    assert model(tokens[:, :-1]).shape == (2, 5, CFG.vocab_size)


@pytest.mark.parametrize("part", ["block", "ff_out"])
def test_gradient_norms_are_autograds(part):
    torch.manual_seed(1)
    model = GPTModel(CFG)
    tokens = random_tokens(CFG, batch_size=2, seq_len=6, seed=1)
    norms = block_gradient_norms(model, tokens, part=part)
    # reference: torch.autograd.grad on a fresh copy of the loss, matrices listed by hand
    logits = model(tokens[:, :-1])
    loss = torch.nn.functional.cross_entropy(
        logits.reshape(-1, CFG.vocab_size), tokens[:, 1:].reshape(-1)
    )
    for block, norm in zip(model.blocks, norms, strict=True):
        if part == "ff_out":
            mats = [block.ff.c_proj.weight]
        else:
            a, f = block.attn, block.ff
            mats = [a.query.weight, a.key.weight, a.value.weight, a.out_proj.weight]
            mats += [f.c_fc.weight, f.c_proj.weight]
        grads = torch.autograd.grad(loss, mats, retain_graph=True)
        expected = torch.cat([g.flatten() for g in grads]).norm().item()
        assert norm == pytest.approx(expected, rel=1e-5)


def test_profile_is_mean_over_seeds(monkeypatch):
    # stand-in measurements, one profile per call: the mean of [1, 2, 3] and [3, 6, 9] is [2, 4, 6]
    profiles = iter([[1.0, 2.0, 3.0], [3.0, 6.0, 9.0]])
    monkeypatch.setattr(experiment, "block_gradient_norms", lambda *a, **k: next(profiles))
    profile = gradient_profile_at_init(CFG, seeds=(0, 1), batch_size=2, seq_len=4)
    assert list(profile) == [2.0, 4.0, 6.0]


def test_profile_leaves_the_global_generator_alone():
    torch.manual_seed(5)
    expected = torch.rand(3)
    torch.manual_seed(5)
    gradient_profile_at_init(CFG, seeds=(0,), batch_size=2, seq_len=4)
    assert torch.equal(torch.rand(3), expected)


def test_profile_is_reproducible_whatever_the_global_state():
    torch.manual_seed(1)
    a = gradient_profile_at_init(CFG, seeds=(0,), batch_size=2, seq_len=4)
    torch.manual_seed(2)
    b = gradient_profile_at_init(CFG, seeds=(0,), batch_size=2, seq_len=4)
    assert list(a) == list(b)


def test_token_similarity_hand_cases():
    torch.manual_seed(2)
    model = GPTModel(CFG)
    tokens = random_tokens(CFG, 2, 4, seed=2)
    model.blocks = torch.nn.ModuleList()  # no blocks: the similarity of the embeddings themselves
    x = model.tok_emb(tokens) + model.pos_emb(torch.arange(5))
    u = torch.nn.functional.normalize(x, dim=-1)
    pairs = [
        (u[b, i] @ u[b, j]).item() for b in range(2) for i in range(5) for j in range(5) if i != j
    ]
    assert token_similarity(model, tokens) == pytest.approx(sum(pairs) / len(pairs), rel=1e-5)
    with torch.no_grad():  # every token and position the same vector: similarity exactly 1
        model.tok_emb.weight[:] = 1.0
        model.pos_emb.weight[:] = 0.0
    assert token_similarity(model, tokens) == pytest.approx(1.0)


def test_figures_draw():
    fig = block_diagram(["pre", "post"])
    assert len(fig.axes) == 2
    fig = plot_profiles({"a": {"x": [1.0, 2.0]}, "b": {"x": [1.0, 0.5]}}, colors={"x": "#000000"})
    assert len(fig.axes) == 2 and fig.axes[0].get_yscale() == "log"
    plt.close("all")


def test_bad_arguments():
    model = GPTModel(CFG)
    with pytest.raises(ValueError, match="unknown part"):
        gradient_profile_at_init(CFG, part="everything", seq_len=4)
    with pytest.raises(ValueError, match="unknown init"):
        gradient_profile_at_init(CFG, init="orthogonal", seq_len=4)
    with pytest.raises(ValueError, match="unknown norm placement"):
        GPTModel(CFG, norm="sandwich")
    with pytest.raises(ValueError, match="longer than the context length"):
        random_tokens(CFG, 1, 9, seed=0)
    with pytest.raises(ValueError, match="longer than the context length"):
        model(torch.zeros(1, 9, dtype=torch.long))
    with pytest.raises(ValueError, match="no colour given"):
        plot_profiles({"a": {"x": [1.0]}}, colors={})
    with pytest.raises(ValueError, match="unknown norm placement"):
        block_diagram("middle")


def test_norm_input_scales_by_hand():
    torch.manual_seed(3)
    model = GPTModel(CFG)
    tokens = random_tokens(CFG, 2, 4, seed=3)
    scales = norm_input_scales(model, tokens)
    assert len(scales) == 2 * CFG.n_layers
    with torch.no_grad():  # the first layer norm sees the embeddings; the second, the first add
        x = model.tok_emb(tokens) + model.pos_emb(torch.arange(5))
        h = x + model.blocks[0].attn(model.blocks[0].norm1(x))
    assert scales[0] == pytest.approx(x.std(dim=-1, unbiased=False).mean().item(), rel=1e-5)
    assert scales[1] == pytest.approx(h.std(dim=-1, unbiased=False).mean().item(), rel=1e-5)
    norm = model.blocks[0].norm1  # record_inputs registers forward pre-hooks: both kinds are gone
    assert not norm._forward_pre_hooks and not norm._forward_hooks


def test_bad_token_ids_are_rejected():
    cfg = GPTConfig(vocab_size=16, context_length=8, emb_dim=8, n_heads=2, n_layers=1)
    model = GPTModel(cfg)
    with pytest.raises(IndexError):  # nn.Embedding's own check: no id outside 0..15
        model(torch.tensor([[1, 2, 16]]))
    with pytest.raises(RuntimeError):  # nor ids that are not integers
        model(torch.zeros(1, 4))
    with pytest.raises(ValueError, match="longer than the context length 8"):
        model(torch.zeros(1, 9, dtype=torch.long))


# --- GPT-2's initialisation, the layer norms' epsilon, the centred similarity, the stream gradient


def test_branch_scale_by_hand():
    # (0.02 * sqrt(64))^2 / sqrt(2 * 48) = 0.0256 / sqrt(96), worked out by hand
    assert experiment.gpt2_branch_scale(64, 48) == pytest.approx(0.0256 / 96**0.5)
    assert experiment.gpt2_branch_scale(768, 12) == pytest.approx(0.3072 / 24**0.5)


@pytest.mark.parametrize("branch", ["attention-like", "feed-forward"])
def test_branch_scale_matches_torch_ops(branch):
    # a normalised input through GPT-2-initialised matrices, written with torch's own ops; at width
    # 64 the hidden features (std 0.16) are small enough for GELU to act as x / 2
    C, L = 64, 12
    gen = torch.Generator().manual_seed(0)
    x = torch.nn.functional.layer_norm(torch.randn(8192, C, generator=gen), (C,))
    out_std = 0.02 / (2 * L) ** 0.5
    if branch == "attention-like":  # the value projection, then the output projection
        h = x @ (0.02 * torch.randn(C, C, generator=gen))
        y = h @ (out_std * torch.randn(C, C, generator=gen))
    else:  # widen to 4C, GELU (tanh form), project back
        h = torch.nn.functional.gelu(
            x @ (0.02 * torch.randn(C, 4 * C, generator=gen)), approximate="tanh"
        )
        y = h @ (out_std * torch.randn(4 * C, C, generator=gen))
    assert y.std().item() == pytest.approx(experiment.gpt2_branch_scale(C, L), rel=0.1)


def test_set_norm_eps_reaches_every_layer_norm():
    torch.manual_seed(4)
    model = experiment.set_norm_eps(GPTModel(CFG), 1e-12)
    norms = [m for m in model.modules() if type(m).__name__ == "LayerNorm"]
    assert len(norms) == 2 * CFG.n_layers + 1 and all(n.eps == 1e-12 for n in norms)
    x = 1e-4 * torch.randn(2, 3, CFG.emb_dim, dtype=torch.float64)  # small: epsilon matters
    expected = torch.nn.functional.layer_norm(x, (CFG.emb_dim,), eps=1e-12)
    assert torch.allclose(norms[0].double()(x), expected, atol=1e-8)
    with pytest.raises(ValueError):
        experiment.set_norm_eps(model, -1.0)


@pytest.mark.parametrize("use_shortcut", [True, False])
def test_first_block_gradient_is_autograds(use_shortcut):
    torch.manual_seed(5)
    model = GPTModel(CFG, use_shortcut=use_shortcut)
    tokens = random_tokens(CFG, 2, 6, seed=5)
    gradient, sigma = experiment.first_block_gradient(model, tokens)
    # reference: the full backward pass, and the last block's second layer norm's input by hand
    assert gradient == pytest.approx(block_gradient_norms(model, tokens)[0], rel=1e-5)
    with torch.no_grad():
        x = model.tok_emb(tokens[:, :-1]) + model.pos_emb(torch.arange(6))
        for block in model.blocks[:-1]:
            x = block(x)
        last = model.blocks[-1]
        h = last.attn(last.norm1(x)) + (x if use_shortcut else 0)
    assert sigma == pytest.approx(h.std(dim=-1, unbiased=False).mean().item(), rel=1e-4)


def test_sweep_sets_eps_and_shortcuts_and_averages(monkeypatch):
    seen = []

    def fake(model, tokens):
        eps = {m.eps for m in model.modules() if hasattr(m, "eps")}
        flags = {b.use_shortcut for b in model.blocks}
        seen.append((eps, flags))
        return float(len(seen)), 0.0

    monkeypatch.setattr(experiment, "first_block_gradient", fake)
    points = experiment.epsilon_sweep(
        CFG, (8,), (3,), epsilons=(1e-5, 1e-12), seeds=(0, 1), batch_size=2, seq_len=4
    )
    assert len(points) == 4 and len(seen) == 8
    assert all(len(eps) == 1 and len(flags) == 1 for eps, flags in seen)
    by_key = {(p.eps, p.use_shortcut): p.gradient for p in points}
    # calls 1-4 for seed 0 and 5-8 for seed 1, in the order (1e-5, with), (1e-5, without), ...
    assert by_key[1e-5, True] == 3.0 and by_key[1e-12, False] == 6.0
    with pytest.raises(ValueError, match="seeds is empty"):
        experiment.epsilon_sweep(CFG, (8,), (3,), seeds=())


def test_epsilon_decides_the_collapse():
    # width 8: s = (0.02 sqrt 8)^2 / sqrt(12) is far below sqrt(1e-5), far above sqrt(1e-12)
    cfg = GPTConfig(vocab_size=13, context_length=8, emb_dim=8, n_heads=2, drop_rate=0.0)
    points = experiment.epsilon_sweep(cfg, (8,), (6,), seeds=(0,), batch_size=2, seq_len=6)
    g = {(p.eps, p.use_shortcut): p.gradient for p in points}
    assert g[1e-5, False] < 1e-3 * g[1e-12, False]
    assert g[1e-5, True] == pytest.approx(g[1e-12, True], rel=0.05)


def test_centred_similarity_ignores_a_shared_vector():
    torch.manual_seed(6)
    model = GPTModel(CFG)
    model.blocks = torch.nn.ModuleList()  # no blocks: the similarity of the embeddings themselves
    tokens = random_tokens(CFG, 3, 4, seed=6)
    x = model.tok_emb(tokens) + model.pos_emb(torch.arange(5))
    u = torch.nn.functional.normalize(x - x.mean(dim=(0, 1)), dim=-1)
    pairs = [
        (u[b, i] @ u[b, j]).item() for b in range(3) for i in range(5) for j in range(5) if i != j
    ]
    centred = token_similarity(model, tokens, centred=True)
    assert centred == pytest.approx(sum(pairs) / len(pairs), rel=1e-4)
    with torch.no_grad():  # a large vector shared by every position
        model.pos_emb.weight += 100.0
    assert token_similarity(model, tokens) > 0.99
    assert token_similarity(model, tokens, centred=True) == pytest.approx(centred, abs=1e-3)


@pytest.mark.parametrize("norm", ["pre", "post"])
def test_stream_gradient_norms_are_autograds(norm):
    torch.manual_seed(7)
    model = GPTModel(CFG, norm=norm)
    tokens = random_tokens(CFG, 2, 5, seed=7)
    norms = stream_gradient_norms(model, tokens)
    # reference: run the blocks by hand and ask autograd for the gradient of each block's output
    x = model.tok_emb(tokens[:, :-1]) + model.pos_emb(torch.arange(5))
    outputs = []
    for block in model.blocks:
        x = block(x)
        outputs.append(x)
    logits = model.out_head(model.final_norm(x))
    loss = torch.nn.functional.cross_entropy(logits.flatten(0, 1), tokens[:, 1:].flatten())
    expected = [g.norm().item() for g in torch.autograd.grad(loss, outputs)]
    assert norms == pytest.approx(expected, rel=1e-5)
    assert all(p.grad is not None for p in model.blocks[0].parameters())


def test_gradient_parts_at_init():
    parts = experiment.gradient_parts_at_init(CFG, seeds=(0,), batch_size=2, seq_len=4)
    assert set(parts) == {"ff_out", "stream", "activations"}
    assert all(v.shape == (CFG.n_layers,) for v in parts.values())
    expected = gradient_profile_at_init(CFG, part="ff_out", seeds=(0,), batch_size=2, seq_len=4)
    assert list(parts["ff_out"]) == pytest.approx(list(expected), rel=1e-6)


# -- the edge explorer: the first block's gradient against depth, by width and epsilon -------------
def sweep_points(widths=(8, 16), depths=(2, 3, 5), epsilons=(1e-5, 1e-12)):
    """A made-up sweep in which every measurement has its own value."""
    return [
        experiment.SweepPoint(C, L, eps, sc, gradient=C * L * (2.0 if sc else 10.0**-L) * e, sigma_last=0.0)
        for C in widths
        for L in depths
        for e, eps in enumerate(epsilons, start=1)
        for sc in (False, True)
    ]  # fmt: skip


def test_edge_explorer_carries_every_point():
    points = sweep_points()
    explorer = edge_explorer(points)
    value = {(p.emb_dim, p.n_layers, p.eps, p.use_shortcut): p.gradient for p in points}
    assert explorer.controls[0].values == [8, 16] and explorer.controls[1].values == [1e-5, 1e-12]
    data, top = explorer.data(), top_of(explorer)
    for i, C in enumerate((8, 16)):
        for j, eps in enumerate((1e-5, 1e-12)):
            view, xaxis, yaxis, xs = explorer.views[(C, eps)]
            caption, parts = data["states"][i][j]
            assert caption == view.caption and caption.startswith(f"Width {C}, ε = 10⁻")
            assert xs == [2, 3, 5]
            for k, sc in enumerate((False, True)):
                expected = [value[C, L, eps, sc] for L in (2, 3, 5)]
                assert list(view.y["with" if sc else "without"]) == expected
                drawn = path_points(data["pool"][parts[2 + k]], xaxis, yaxis, top)
                assert [x for x, _ in drawn] == pytest.approx([2, 3, 5], abs=0.01)
                assert [y for _, y in drawn] == pytest.approx(expected, rel=0.05)
    # one vertical axis for every state, in whole decades, holding every value
    axes = [explorer.views[key][2] for key in explorer.views]
    assert all(axis == axes[0] for axis in axes) and all(axes[0].holds(v) for v in value.values())


def test_edge_explorer_caption_by_hand():
    # width 100, eps 1e-5: the edge is (0.02^2 * 100)^2 / 2e-5 = 0.0016 / 2e-5 = 80 blocks
    assert edge_blocks(100, 1e-5) == pytest.approx(80.0)
    grads = {(2, False): 3.0, (2, True): 1.0, (4, False): 0.5, (4, True): 1.0,
             (8, False): 2e-5, (8, True): 2.0}  # fmt: skip
    points = [
        experiment.SweepPoint(100, L, eps, sc, g * (1 if eps == 1e-5 else 10), 0.0)
        for (L, sc), g in grads.items()
        for eps in (1e-5, 1e-12)
    ]
    explorer = edge_explorer(points)
    assert repr(explorer) == (
        "Width 100, ε = 10⁻⁵: a sub-layer's output falls below √ε beyond 80.0 blocks. Without "
        "shortcuts the first block gets less gradient than with them from 4 blocks on; at 8 "
        "blocks, 1.00 × 10⁻⁵ times as much."
    )
    # eps 1e-12: the edge at 8e8 blocks; the same ratios, as every gradient is ten times larger
    assert explorer.views[(100, 1e-12)][0].caption.startswith(
        "Width 100, ε = 10⁻¹²: a sub-layer's output falls below √ε beyond 800,000,000 blocks."
    )
    points[0] = experiment.SweepPoint(100, 2, 1e-5, False, 0.5, 0.0)  # less at 2 blocks (and at 8)
    points[4] = experiment.SweepPoint(100, 4, 1e-5, False, 5.0, 0.0)  # more at 4: not "from ... on"
    assert "less gradient than with them at 2 of the 3 depths" in repr(edge_explorer(points))


def test_edge_explorer_is_accessible_and_within_budget():
    widths, depths = (32, 64, 96), (4, 8, 16, 24, 32, 48)
    explorer = edge_explorer(sweep_points(widths, depths), width=64)
    html = explorer._repr_html_()
    soup = BeautifulSoup(html, "html.parser")
    slider = soup.find("input", type="range")
    assert (slider["min"], slider["max"], slider["value"]) == ("0", "2", "1")
    assert slider["aria-valuetext"] == "C = 64"
    assert [o.get_text() for o in soup.find_all("option")] == ["ε = 10⁻⁵", "ε = 10⁻¹²"]
    assert soup.figcaption.get_text().startswith("Width 64, ε = 10⁻⁵")
    for path in soup.find_all("path", class_="gfx-series"):
        assert path["d"].count("M") + path["d"].count("L") == len(depths), "one point per depth"
    # every control changes the caption from every state
    captions = {explorer.views[key][0].caption for key in explorer.views}
    assert len(captions) == len(widths) * 2
    weight = len(gzip.compress(html.encode()))
    assert weight <= 30_000, f"the edge explorer adds {weight} bytes gzipped"


@pytest.mark.parametrize(
    "change, error, message",
    [
        (lambda ps: [], ValueError, "empty"),
        (lambda ps: ps[1:], ValueError, "missing"),
        (lambda ps: [*ps, ps[0]], ValueError, "measured twice"),
        (lambda ps: [replace(ps[0], gradient=0.0), *ps[1:]], ValueError, "finite number above 0"),
        (
            lambda ps: [replace(ps[0], gradient=float("nan")), *ps[1:]],
            ValueError,
            "finite number above 0",
        ),
        (lambda ps: [replace(ps[0], gradient="1"), *ps[1:]], ValueError, "finite number above 0"),
        (lambda ps: [replace(ps[0], gradient=float("inf")), *ps[1:]], ValueError, "finite"),
    ],
)
def test_edge_explorer_rejects_bad_points(change, error, message):
    with pytest.raises(error, match=message):
        edge_explorer(change(sweep_points()))


def test_edge_explorer_rejects_an_unmeasured_start():
    with pytest.raises(ValueError, match="not a value of control 'width'"):
        edge_explorer(sweep_points(), width=12)
    with pytest.raises(ValueError, match="not a value of control 'eps'"):
        edge_explorer(sweep_points(), eps=1e-3)
