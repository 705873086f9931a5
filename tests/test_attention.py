"""course_lib.attention: softmax, attention, heads, positions, encoder blocks — and parity with PyTorch."""
import math

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from course_lib import attention as A

ATOL = 1e-5


def rand(*shape, seed=0):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


def copy_into_torch_mha(mha, d_model, n_heads):
    """An nn.MultiheadAttention holding the same weights as our MultiHeadAttention."""
    ref = nn.MultiheadAttention(d_model, n_heads, batch_first=True)
    with torch.no_grad():
        ref.in_proj_weight.copy_(torch.cat([mha.q.weight, mha.k.weight, mha.v.weight]))
        ref.in_proj_bias.copy_(torch.cat([mha.q.bias, mha.k.bias, mha.v.bias]))
        ref.out_proj.weight.copy_(mha.out.weight)
        ref.out_proj.bias.copy_(mha.out.bias)
    return ref


# --- softmax -------------------------------------------------------------------------------------------

def test_softmax_matches_torch_and_sums_to_one():
    x = rand(3, 4, 5)
    for dim in (-1, 0, 1):
        assert torch.allclose(A.softmax(x, dim=dim), torch.softmax(x, dim=dim), atol=1e-6)
    assert torch.allclose(A.softmax(x).sum(-1), torch.ones(3, 4))


def test_softmax_is_stable_at_large_logits():
    x = torch.tensor([[1e4, 0.0, -1e4], [-1e4, -1e4, -1e4], [1e4, 1e4, -1e4]])
    w = A.softmax(x)
    assert torch.isfinite(w).all()
    assert torch.allclose(w, torch.tensor([[1.0, 0, 0], [1 / 3, 1 / 3, 1 / 3], [0.5, 0.5, 0]]))
    naive = torch.exp(x) / torch.exp(x).sum(-1, keepdim=True)
    assert torch.isnan(naive).any()  # what the max subtraction protects against


def test_softmax_fully_masked_row_gives_zeros():
    x = torch.tensor([[float("-inf")] * 3, [0.0, float("-inf"), 0.0]])
    assert torch.equal(A.softmax(x), torch.tensor([[0.0, 0, 0], [0.5, 0, 0.5]]))


# --- scaled dot-product attention ----------------------------------------------------------------------

def test_sdpa_matches_pytorch():
    q, k, v = rand(2, 3, 5, 8, seed=1), rand(2, 3, 7, 8, seed=2), rand(2, 3, 7, 4, seed=3)
    out, w = A.scaled_dot_product_attention(q, k, v)
    assert out.shape == (2, 3, 5, 4) and w.shape == (2, 3, 5, 7)
    assert torch.allclose(out, F.scaled_dot_product_attention(q, k, v), atol=ATOL)
    scores = q @ k.transpose(-2, -1) / math.sqrt(8)
    assert torch.allclose(w, torch.softmax(scores, -1), atol=ATOL)


def test_sdpa_with_mask_matches_pytorch_and_masked_keys_get_zero_weight():
    q, k, v = rand(2, 3, 5, 8, seed=1), rand(2, 3, 7, 8, seed=2), rand(2, 3, 7, 8, seed=3)
    mask = rand(2, 1, 5, 7, seed=4) > 0
    mask[..., 0] = True  # every query keeps at least one key
    out, w = A.scaled_dot_product_attention(q, k, v, mask)
    assert torch.allclose(out, F.scaled_dot_product_attention(q, k, v, attn_mask=mask), atol=ATOL)
    assert (w.masked_select(~mask.expand_as(w)) == 0).all()
    causal = A.causal_mask(5)
    out, _ = A.scaled_dot_product_attention(q, k[..., :5, :], v[..., :5, :], causal)
    ref = F.scaled_dot_product_attention(q, k[..., :5, :], v[..., :5, :], is_causal=True)
    assert torch.allclose(out, ref, atol=ATOL)


def test_fully_masked_rows_give_zeros_not_nan_and_finite_gradients():
    q, k, v = (rand(1, 2, 4, 8, seed=s).requires_grad_() for s in (1, 2, 3))
    mask = torch.ones(1, 1, 4, 4, dtype=torch.bool)
    mask[..., 2, :] = False  # query 2 may look at nothing
    out, w = A.scaled_dot_product_attention(q, k, v, mask)
    assert torch.isfinite(out).all() and (out[..., 2, :] == 0).all() and (w[..., 2, :] == 0).all()
    out.sum().backward()
    assert all(torch.isfinite(t.grad).all() for t in (q, k, v))


def test_mask_must_be_boolean():
    q = rand(1, 1, 3, 4)
    with pytest.raises(TypeError, match="bool"):
        A.scaled_dot_product_attention(q, q, q, torch.ones(3, 3))
    with pytest.raises(TypeError, match="bool"):
        A.MultiHeadAttention(4, 1)(rand(1, 3, 4), mask=torch.ones(3, 3))


# --- heads ---------------------------------------------------------------------------------------------

def test_split_and_merge_heads():
    x = rand(2, 5, 12)
    heads = A.split_heads(x, 3)
    assert heads.shape == (2, 3, 5, 4)
    for i in range(3):  # head i holds features 4i .. 4i+3 of every token
        assert torch.equal(heads[:, i], x[..., 4 * i: 4 * i + 4])
    assert torch.equal(A.merge_heads(heads), x)
    with pytest.raises(ValueError, match="divisible"):
        A.split_heads(x, 5)


def test_mha_both_paths_agree_with_and_without_mask():
    torch.manual_seed(0)
    mha = A.MultiHeadAttention(16, 4)
    x, ctx = rand(2, 5, 16, seed=1), rand(2, 7, 16, seed=2)
    real = torch.tensor([[True] * 7, [True] * 3 + [False] * 4])
    for mask in (None, A.padding_mask(real)):
        fused, none = mha(x, ctx, mask=mask)
        explicit, w = mha(x, ctx, mask=mask, need_weights=True)
        assert none is None and w.shape == (2, 4, 5, 7)
        assert torch.allclose(fused, explicit, atol=ATOL)
    mask = torch.ones(1, 1, 5, 7, dtype=torch.bool)
    mask[..., 1, :] = False
    x.requires_grad_()
    fused, _ = mha(x, ctx, mask=mask)
    explicit, _ = mha(x, ctx, mask=mask, need_weights=True)
    assert torch.isfinite(fused).all() and torch.allclose(fused, explicit, atol=ATOL)
    fused.sum().backward()
    assert torch.isfinite(x.grad).all() and all(torch.isfinite(p.grad).all() for p in mha.parameters())


@pytest.mark.parametrize("need_weights", [False, True])
def test_mha_matches_nn_multihead_attention(need_weights):
    torch.manual_seed(0)
    d, h = 32, 4
    mha = A.MultiHeadAttention(d, h)
    ref = copy_into_torch_mha(mha, d, h)
    x, ctx = rand(3, 6, d, seed=1), rand(3, 9, d, seed=2)
    real = torch.ones(3, 9, dtype=torch.bool)
    real[1, 5:] = False
    for context, key_real in ((None, real[:, :6]), (ctx, real)):
        kv = x if context is None else context
        out, w = mha(x, context, mask=A.padding_mask(key_real), need_weights=need_weights)
        ref_out, ref_w = ref(x, kv, kv, key_padding_mask=~key_real, average_attn_weights=False)
        assert torch.allclose(out, ref_out, atol=ATOL)
        if need_weights:
            assert torch.allclose(w, ref_w, atol=ATOL)


def test_mha_gradients_match_nn_multihead_attention():
    torch.manual_seed(0)
    mha = A.MultiHeadAttention(24, 3)
    ref = copy_into_torch_mha(mha, 24, 3)
    x = rand(2, 5, 24)
    mha(x)[0].square().sum().backward()
    ref(x, x, x)[0].square().sum().backward()
    assert torch.allclose(mha.q.weight.grad, ref.in_proj_weight.grad[:24], atol=1e-4)
    assert torch.allclose(mha.out.weight.grad, ref.out_proj.weight.grad, atol=1e-4)


def test_mha_rejects_bad_sizes():
    with pytest.raises(ValueError, match="divisible"):
        A.MultiHeadAttention(10, 3)


# --- position does not matter to attention, until we add positions ------------------------------------

def test_attention_is_permutation_equivariant_without_positions():
    torch.manual_seed(0)
    enc = A.Encoder(2, 16, 4).eval()
    x = rand(1, 6, 16)
    perm = torch.tensor([3, 0, 5, 1, 4, 2])
    out, _ = enc(x)
    out_perm, _ = enc(x[:, perm])
    assert torch.allclose(out_perm, out[:, perm], atol=ATOL)  # shuffled in, same vectors shuffled out
    mha_out = enc.layers[0].attn(x)[0]
    assert torch.allclose(enc.layers[0].attn(x[:, perm])[0], mha_out[:, perm], atol=ATOL)


@pytest.mark.parametrize("positions", [A.SinusoidalPositions, A.LearnedPositions])
def test_positions_break_permutation_equivariance(positions):
    torch.manual_seed(0)
    enc, pos = A.Encoder(2, 16, 4).eval(), positions(16, max_len=10)
    x = rand(1, 6, 16)
    perm = torch.tensor([3, 0, 5, 1, 4, 2])
    out, _ = enc(pos(x))
    out_perm, _ = enc(pos(x[:, perm]))
    assert not torch.allclose(out_perm, out[:, perm], atol=1e-3)
    assert torch.equal(pos(torch.zeros(2, 6, 16)), pos.table[:6].expand(2, 6, 16))
    with pytest.raises(ValueError, match="max_len"):
        pos(torch.zeros(1, 11, 16))


def test_sinusoidal_positions_formula():
    P = A.sinusoidal_positions(50, 16)
    assert P.shape == (50, 16)
    pos = torch.arange(50.0)
    for i in range(8):
        angle = pos / 10000 ** (2 * i / 16)
        assert torch.allclose(P[:, 2 * i], torch.sin(angle), atol=1e-5)
        assert torch.allclose(P[:, 2 * i + 1], torch.cos(angle), atol=1e-5)
    odd = A.sinusoidal_positions(7, 5)  # odd width: the last column is a sine
    assert torch.allclose(odd[:, 4], torch.sin(torch.arange(7.0) / 10000 ** (4 / 5)), atol=1e-5)
    assert torch.allclose(odd[:, 3], torch.cos(torch.arange(7.0) / 10000 ** (2 / 5)), atol=1e-5)


# --- encoder blocks ------------------------------------------------------------------------------------

@pytest.mark.parametrize("norm_first", [False, True])
def test_encoder_block_matches_nn_transformer_encoder_layer(norm_first):
    torch.manual_seed(0)
    d, h, d_ff = 32, 4, 64
    block = A.EncoderBlock(d, h, d_ff, norm_first=norm_first).eval()
    ref = nn.TransformerEncoderLayer(d, h, d_ff, dropout=0.0, activation="gelu", batch_first=True,
                                     norm_first=norm_first).eval()
    ref.self_attn.load_state_dict(copy_into_torch_mha(block.attn, d, h).state_dict())
    with torch.no_grad():
        for ours, theirs in ((block.ff[0], ref.linear1), (block.ff[2], ref.linear2),
                             (block.norm1, ref.norm1), (block.norm2, ref.norm2)):
            theirs.weight.copy_(ours.weight)
            theirs.bias.copy_(ours.bias)
    x = rand(2, 5, d)
    real = torch.tensor([[True] * 5, [True] * 3 + [False] * 2])
    out, w = block(x, mask=A.padding_mask(real), need_weights=True)
    assert w.shape == (2, h, 5, 5)
    expected = ref(x, src_key_padding_mask=~real)
    assert torch.allclose(out, expected, atol=ATOL)


def test_encoder_returns_weights_per_layer_and_ignores_padding():
    torch.manual_seed(0)
    enc = A.Encoder(3, 16, 2, norm_first=True).eval()
    x = rand(2, 6, 16)
    real = torch.tensor([[True] * 6, [True] * 4 + [False] * 2])
    out, weights = enc(x, mask=A.padding_mask(real), need_weights=True)
    assert out.shape == (2, 6, 16) and len(weights) == 3
    for w in weights:
        assert w.shape == (2, 2, 6, 6)
        assert torch.allclose(w.sum(-1), torch.ones(2, 2, 6))
        assert (w[1, ..., 4:] == 0).all()  # nobody looks at padding
    assert enc(x)[1] is None
    x2 = x.clone()
    x2[1, 4:] = 100.0  # whatever sits in the padding does not change the real tokens
    out2, _ = enc(x2, mask=A.padding_mask(real))
    assert torch.allclose(out2[1, :4], out[1, :4], atol=ATOL)
