import torch

from course_lib import seq2seq
from course_lib.attention import scaled_dot_product_attention


def model_and_batch():
    torch.manual_seed(0)
    model = seq2seq.Seq2Seq(20, max_len=12, d_model=32, n_heads=4, n_layers=2).eval()
    src = torch.randint(5, 20, (3, 6))
    src_real = torch.ones(3, 6, dtype=torch.bool)
    src_real[1, 4:] = False
    src[1, 4:] = 0
    tgt = torch.randint(5, 20, (3, 8))
    return model, src, src_real, tgt


def test_shapes_and_weights():
    model, src, src_real, tgt = model_and_batch()
    logits, w = model(src, src_real, tgt, need_weights=True)
    assert logits.shape == (3, 8, 20)
    assert w["encoder"].shape == (3, 2, 4, 6, 6)
    assert w["decoder"].shape == (3, 2, 4, 8, 8)
    assert w["cross"].shape == (3, 2, 4, 8, 6)
    torch.testing.assert_close(w["cross"].sum(-1), torch.ones(3, 2, 4, 8))
    assert torch.all(w["cross"][1, ..., 4:] == 0)          # padding is never read
    assert torch.all(w["decoder"].triu(1) == 0)             # the decoder never reads ahead
    fast, none = model(src, src_real, tgt)
    assert none is None
    torch.testing.assert_close(fast, logits, atol=1e-5, rtol=1e-4)


def test_decoder_is_causal_and_padding_is_ignored():
    model, src, src_real, tgt = model_and_batch()
    a, _ = model(src, src_real, tgt)
    changed = tgt.clone()
    changed[:, 5:] = (changed[:, 5:] + 1) % 20
    b, _ = model(src, src_real, changed)
    torch.testing.assert_close(a[:, :5], b[:, :5])
    other = src.clone()
    other[1, 4:] = 7  # different tokens under the padding
    c, _ = model(other, src_real, tgt)
    torch.testing.assert_close(a, c)


def test_greedy_decode_matches_step_by_step_argmax():
    model, src, src_real, _ = model_and_batch()
    out, w = seq2seq.greedy_decode(model, src, src_real, bos_id=2, eos_id=3, max_len=7, need_weights=True)
    assert out.shape == (3, 7) and w["cross"].shape == (3, 2, 4, 7, 6)
    full = torch.cat([torch.full((3, 1), 2), out], dim=1)
    logits, _ = model(src, src_real, full[:, :-1])
    assert torch.equal(logits.argmax(-1), out)  # no eos in a random model's first steps -> pure argmax chain


def test_greedy_decode_stops_and_pads_after_the_end_token():
    model, src, src_real, _ = model_and_batch()
    with torch.no_grad():
        model.head.bias.fill_(-100.0)
        model.head.bias[3] = 100.0  # the end token always wins
    out, _ = seq2seq.greedy_decode(model, src, src_real, bos_id=2, eos_id=3, max_len=7)
    assert out.tolist() == [[3], [3], [3]]


def test_cross_attention_reference():
    g = torch.Generator().manual_seed(0)
    x, memory = torch.randn(2, 3, 8, generator=g), torch.randn(2, 5, 8, generator=g)
    Wq, Wk, Wv = (torch.randn(8, 4, generator=g) for _ in range(3))
    real = torch.tensor([[True] * 5, [True, True, False, False, False]])
    out, w = seq2seq.cross_attention(x, memory, real, Wq, Wk, Wv)
    assert out.shape == (2, 3, 4) and w.shape == (2, 3, 5)
    assert torch.all(w[1, :, 2:] == 0)
    ref, _ = scaled_dot_product_attention(x[1:] @ Wq, memory[1:, :2] @ Wk, memory[1:, :2] @ Wv)
    torch.testing.assert_close(out[1:], ref)
