"""Protects gradflow.gpt: each part of the GPT-2 block agrees with PyTorch's own implementation,
attention is causal, the pre-LN and post-LN blocks and their gradients agree with PyTorch's
TransformerEncoderLayer, its parameter count matches GPT-2 small's,
GPTModel's count matches the book's, GPT-2's initialisation draws its published standard
deviations (Radford et al. 2019, as nanoGPT writes them), and bad input is refused with a message that names the problem."""

import math
from dataclasses import replace

import pytest
import torch
from torch import nn
from torch.nn import functional as F

from gradflow import published
from gradflow.gpt import (
    GELU,
    GPT2_STD,
    CausalSelfAttention,
    FeedForward,
    GPTConfig,
    GPTModel,
    LayerNorm,
    PostLNTransformerBlock,
    TransformerBlock,
    count_parameters,
    make_block,
)
from gradflow.init import seeded

TINY = GPTConfig(vocab_size=11, context_length=8, emb_dim=12, n_heads=3, n_layers=2, drop_rate=0.0)


def tiny_input(cfg=TINY, B=2, T=5, seed=0):
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(B, T, cfg.emb_dim, generator=gen, dtype=torch.float64)


def test_layer_norm_matches_torch():
    torch.manual_seed(0)
    norm = LayerNorm(12).double()
    with torch.no_grad():  # a non-trivial scale and shift, so that both are checked
        norm.scale.normal_()
        norm.shift.normal_()
    x = 3.0 * tiny_input() + 1.5
    expected = F.layer_norm(x, (12,), norm.scale, norm.shift, eps=1e-5)
    torch.testing.assert_close(norm(x), expected, rtol=0, atol=1e-10)


def test_gelu_matches_torch_tanh_approximation():
    x = torch.linspace(-8, 8, 2001, dtype=torch.float64)
    torch.testing.assert_close(GELU()(x), F.gelu(x, approximate="tanh"), rtol=0, atol=1e-10)


@pytest.mark.parametrize("qkv_bias", [False, True])
def test_attention_matches_scaled_dot_product_attention(qkv_bias):
    cfg = replace(TINY, qkv_bias=qkv_bias)
    torch.manual_seed(1)
    attn = CausalSelfAttention(cfg).double().eval()
    x = tiny_input(cfg)
    B, T, C = x.shape

    def heads(t):
        return t.view(B, T, cfg.n_heads, C // cfg.n_heads).transpose(1, 2)

    q, k, v = heads(attn.query(x)), heads(attn.key(x)), heads(attn.value(x))
    out = F.scaled_dot_product_attention(q, k, v, is_causal=True)
    expected = attn.out_proj(out.transpose(1, 2).reshape(B, T, C))
    torch.testing.assert_close(attn(x), expected, rtol=0, atol=1e-10)


@pytest.mark.parametrize(
    "make",
    [
        CausalSelfAttention,
        lambda cfg: TransformerBlock(cfg),
        lambda cfg: PostLNTransformerBlock(cfg),
        lambda cfg: TransformerBlock(cfg, use_shortcut=False),
    ],
    ids=["attention", "pre-LN block", "post-LN block", "block without shortcuts"],
)
@pytest.mark.parametrize("t", [0, 2, 5])
def test_changing_a_later_token_leaves_earlier_outputs_unchanged(make, t):
    torch.manual_seed(2)
    module = make(TINY).double().eval()
    x = tiny_input(T=7)
    y = x.clone()
    y[:, t + 1] += torch.randn_like(y[:, t + 1])  # change token t + 1 only
    out_x, out_y = module(x), module(y)
    torch.testing.assert_close(out_x[:, : t + 1], out_y[:, : t + 1], rtol=0, atol=0)
    assert not torch.allclose(out_x[:, t + 1], out_y[:, t + 1])  # ... and the change is seen


def torch_reference_layer(block: TransformerBlock, norm_first: bool) -> nn.TransformerEncoderLayer:
    """PyTorch's own encoder layer holding ``block``'s weights: tanh-GELU, no dropout, batch first."""
    cfg = block.cfg
    layer = nn.TransformerEncoderLayer(
        cfg.emb_dim,
        cfg.n_heads,
        dim_feedforward=4 * cfg.emb_dim,
        dropout=0.0,
        activation=lambda t: F.gelu(t, approximate="tanh"),
        layer_norm_eps=1e-5,
        batch_first=True,
        norm_first=norm_first,
    ).double()
    attn, ff = block.attn, block.ff
    with torch.no_grad():
        layer.self_attn.in_proj_weight.copy_(
            torch.cat([attn.query.weight, attn.key.weight, attn.value.weight])
        )
        layer.self_attn.in_proj_bias.copy_(
            torch.cat([attn.query.bias, attn.key.bias, attn.value.bias])
        )
        layer.self_attn.out_proj.weight.copy_(attn.out_proj.weight)
        layer.self_attn.out_proj.bias.copy_(attn.out_proj.bias)
        layer.linear1.weight.copy_(ff.c_fc.weight)
        layer.linear1.bias.copy_(ff.c_fc.bias)
        layer.linear2.weight.copy_(ff.c_proj.weight)
        layer.linear2.bias.copy_(ff.c_proj.bias)
        for ours, theirs in ((block.norm1, layer.norm1), (block.norm2, layer.norm2)):
            theirs.weight.copy_(ours.scale)
            theirs.bias.copy_(ours.shift)
    return layer.eval()


def randomised_block(norm: str, use_shortcut: bool = True, seed: int = 3) -> TransformerBlock:
    """A tiny block with QKV biases and non-trivial layer-norm scales and shifts."""
    cfg = replace(TINY, qkv_bias=True)
    torch.manual_seed(seed)
    block = make_block(cfg, norm, use_shortcut).double().eval()
    with torch.no_grad():
        for ln in (block.norm1, block.norm2):
            ln.scale.normal_()
            ln.shift.normal_()
    return block


@pytest.mark.parametrize(("norm", "norm_first"), [("pre", True), ("post", False)])
def test_block_matches_torch_encoder_layer(norm, norm_first):
    # the block, its causal mask and its gradient against PyTorch's TransformerEncoderLayer
    block = randomised_block(norm)
    layer = torch_reference_layer(block, norm_first)
    x = tiny_input(B=2, T=6).requires_grad_(True)
    mask = nn.Transformer.generate_square_subsequent_mask(6, dtype=torch.float64)
    ours, theirs = block(x), layer(x, src_mask=mask, is_causal=True)
    torch.testing.assert_close(ours, theirs, rtol=0, atol=1e-10)
    weights = torch.randn_like(ours)  # a random linear function of the output, for a backward pass
    (g_ours,) = torch.autograd.grad((ours * weights).sum(), x)
    (g_theirs,) = torch.autograd.grad((theirs * weights).sum(), x)
    torch.testing.assert_close(g_ours, g_theirs, rtol=0, atol=1e-10)


@pytest.mark.parametrize(("norm", "norm_first"), [("pre", True), ("post", False)])
def test_block_without_shortcuts_matches_torch_sub_layers(norm, norm_first):
    # TransformerEncoderLayer always adds its shortcuts; its own sub-layers (_sa_block, _ff_block)
    # composed without the additions are the reference for use_shortcut=False
    block = randomised_block(norm, use_shortcut=False)
    layer = torch_reference_layer(block, norm_first)
    x = tiny_input(B=2, T=6)
    mask = nn.Transformer.generate_square_subsequent_mask(6, dtype=torch.float64)

    def sa(t):
        return layer._sa_block(t, mask, None, is_causal=True)

    if norm_first:
        expected = layer._ff_block(layer.norm2(sa(layer.norm1(x))))
    else:
        expected = layer.norm2(layer._ff_block(layer.norm1(sa(x))))
    torch.testing.assert_close(block(x), expected, rtol=0, atol=1e-10)


def test_gpt2_small_parameter_counts():
    cfg = GPTConfig()  # GPT-2 small, no QKV bias
    C = 768
    ff = (C * 4 * C + 4 * C) + (4 * C * C + C)  # two Linear layers with bias, counted by hand
    attn = 3 * C * C + (C * C + C)  # query, key, value without bias; output projection with bias
    norms = 2 * (2 * C)  # two layer norms, each a scale and a shift
    assert ff == published.GPT2_SMALL_BLOCK_FF and attn == published.GPT2_SMALL_BLOCK_ATTN
    assert ff + attn + norms == published.GPT2_SMALL_BLOCK
    torch.manual_seed(0)
    block = TransformerBlock(cfg)
    assert count_parameters(block.ff) == ff
    assert count_parameters(block.attn) == attn
    assert count_parameters(block) == ff + attn + norms
    assert (
        count_parameters(PostLNTransformerBlock(cfg)) == ff + attn + norms
    )  # same parts, other order


def test_qkv_bias_adds_three_bias_vectors():
    with_bias = count_parameters(CausalSelfAttention(GPTConfig(qkv_bias=True)))
    assert with_bias == 2_360_064 + 3 * 768


def test_gpt2_small_config():
    cfg = GPTConfig()
    assert (cfg.vocab_size, cfg.context_length, cfg.emb_dim) == (50257, 1024, 768)
    assert (cfg.n_heads, cfg.n_layers, cfg.drop_rate, cfg.qkv_bias) == (12, 12, 0.1, False)
    assert cfg.head_dim == 64


def test_feed_forward_widens_by_four():
    ff = FeedForward(TINY)
    assert ff.c_fc.out_features == 4 * TINY.emb_dim == ff.c_proj.in_features


@pytest.mark.parametrize("norm", ["pre", "post"])
def test_block_keeps_shape_and_dropout_only_acts_in_training(norm):
    cfg = replace(TINY, drop_rate=0.5)
    torch.manual_seed(6)
    block = make_block(cfg, norm).double()
    x = tiny_input(cfg)
    assert block.eval()(x).shape == x.shape
    # eval: dropout does nothing, so the block equals the same weights in a block without dropout
    no_dropout = make_block(replace(cfg, drop_rate=0.0), norm).double().eval()
    no_dropout.load_state_dict(block.state_dict())
    torch.testing.assert_close(block(x), no_dropout(x), rtol=0, atol=0)
    block.train()
    assert not torch.allclose(block(x), block(x))  # train: dropout draws new masks


def test_width_not_divisible_by_heads():
    with pytest.raises(ValueError, match="divisible by n_heads"):
        GPTConfig(emb_dim=10, n_heads=3)


@pytest.mark.parametrize("field,value", [("n_layers", 0), ("drop_rate", 1.0), ("drop_rate", -0.1)])
def test_bad_config_values(field, value):
    with pytest.raises(ValueError, match=field):
        GPTConfig(**{field: value})


def test_unknown_norm_placement_and_init():
    with pytest.raises(ValueError, match="unknown norm placement"):
        make_block(TINY, "middle")
    with pytest.raises(ValueError, match="unknown init 'orthogonal'"):
        GPTModel(TINY, init="orthogonal")


def test_gpt_model_rejects_a_config_that_is_not_a_gptconfig():
    with pytest.raises(TypeError, match="cfg must be a GPTConfig, got dict"):
        GPTModel({"emb_dim": 8})


def test_gpt2_small_model_parameter_count():
    with torch.device("meta"):  # shapes without storage: 163 M parameters cost nothing to build
        model = GPTModel(
            GPTConfig()
        )  # GPT-2 small with a separate output layer, as Raschka's ch. 4
    assert count_parameters(model) == published.GPT2_SMALL_PARAMETERS
    tied = count_parameters(model) - model.out_head.weight.numel()
    assert tied == published.GPT2_SMALL_PARAMETERS_TIED


def test_gpt2_init_draws_gpt2s_standard_deviations():
    with seeded(0):
        model = GPTModel(TINY, init="gpt2")
    L = TINY.n_layers
    big = torch.cat([model.tok_emb.weight.flatten(), model.out_head.weight.flatten()])
    assert big.std().item() == pytest.approx(GPT2_STD, rel=0.05)
    projections = torch.cat(
        [w.flatten() for b in model.blocks for w in (b.attn.out_proj.weight, b.ff.c_proj.weight)]
    )
    assert projections.std().item() == pytest.approx(0.02 / math.sqrt(2 * L), rel=0.05)
    for block in model.blocks:
        assert torch.count_nonzero(block.attn.out_proj.bias) == 0
        assert torch.equal(block.norm1.scale, torch.ones(TINY.emb_dim))
        assert torch.equal(block.norm2.shift, torch.zeros(TINY.emb_dim))
