import math

import pytest
import torch
import torch.nn.functional as F

from course_lib import gpt
from course_lib.attention import MultiHeadAttention


def small_gpt(**kw):
    torch.manual_seed(0)
    args = dict(vocab_size=50, block_size=16, d_model=32, n_layers=2, n_heads=4)
    args.update(kw)
    return gpt.GPT(**args)


def test_causal_mask():
    m = gpt.causal_mask(4)
    assert m.dtype == torch.bool
    assert m.tolist() == [[True, False, False, False], [True, True, False, False],
                          [True, True, True, False], [True, True, True, True]]


def test_fast_path_matches_explicit_attention():
    torch.manual_seed(0)
    attn = gpt.CausalSelfAttention(32, 4)
    x = torch.randn(3, 7, 32)
    fast, none = attn(x)
    slow, w = attn(x, need_weights=True)
    ref, _ = MultiHeadAttention.forward(attn, x, mask=gpt.causal_mask(7))
    assert none is None and w.shape == (3, 4, 7, 7)
    torch.testing.assert_close(fast, slow, atol=1e-6, rtol=1e-5)
    torch.testing.assert_close(slow, ref)
    assert torch.all(w.triu(1) == 0)  # nothing from the future
    torch.testing.assert_close(w.sum(-1), torch.ones(3, 4, 7))


def test_future_tokens_do_not_change_the_past():
    model = small_gpt().eval()
    ids = torch.randint(0, 50, (2, 10))
    changed = ids.clone()
    changed[:, 6:] = (changed[:, 6:] + 1) % 50
    a, _ = model(ids)
    b, _ = model(changed)
    torch.testing.assert_close(a[:, :6], b[:, :6])
    assert not torch.allclose(a[:, 6:], b[:, 6:])


def test_forward_shapes_weights_and_tied_embeddings():
    model = small_gpt().eval()
    ids = torch.randint(0, 50, (2, 9))
    logits, w = model(ids, need_weights=True)
    assert logits.shape == (2, 9, 50) and w.shape == (2, 2, 4, 9, 9)
    logits2, none = model(ids)
    assert none is None
    torch.testing.assert_close(logits, logits2, atol=1e-5, rtol=1e-4)
    assert model.head.weight is model.tokens.weight
    loss = model.loss(ids[:, :-1], ids[:, 1:])
    assert abs(loss.item() - math.log(50)) < 0.3  # small init: close to uniform


def test_bad_input_errors():
    model = small_gpt()
    with pytest.raises(ValueError, match="block_size"):
        model(torch.zeros(1, 17, dtype=torch.long))
    with pytest.raises(ValueError, match="batch, time"):
        model(torch.zeros(17, dtype=torch.long))


def test_matches_hugging_face_gpt2():
    transformers = pytest.importorskip("transformers")
    config = transformers.GPT2Config(vocab_size=61, n_positions=24, n_embd=48, n_layer=3, n_head=4,
                                     resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0,
                                     bos_token_id=None, eos_token_id=None)
    config._attn_implementation = "eager"  # so that HF returns its attention weights
    torch.manual_seed(1)
    hf = transformers.GPT2LMHeadModel(config).eval()
    model = gpt.load_hf_gpt2(gpt.GPT(61, 24, d_model=48, n_layers=3, n_heads=4), hf).eval()
    ids = torch.randint(0, 61, (2, 24))
    with torch.no_grad():
        reference = hf(ids, output_attentions=True)
        fast, _ = model(ids)
        slow, w = model(ids, need_weights=True)
    expected = reference.logits
    torch.testing.assert_close(fast, expected, atol=1e-5, rtol=0)
    torch.testing.assert_close(slow, expected, atol=1e-5, rtol=0)
    torch.testing.assert_close(w, torch.stack(reference.attentions, dim=1), atol=1e-6, rtol=0)
    # the state_dict alone works too, with or without the "transformer." prefix
    sd = {k.removeprefix("transformer."): v for k, v in hf.state_dict().items()}
    again = gpt.load_hf_gpt2(gpt.GPT(61, 24, d_model=48, n_layers=3, n_heads=4), sd).eval()
    with torch.no_grad():
        torch.testing.assert_close(again(ids)[0], expected, atol=1e-5, rtol=0)


def test_load_hf_gpt2_rejects_wrong_sizes():
    transformers = pytest.importorskip("transformers")
    hf = transformers.GPT2LMHeadModel(transformers.GPT2Config(vocab_size=61, n_positions=24, n_embd=48,
                                                              n_layer=2, n_head=4))
    with pytest.raises(ValueError, match="shape"):
        gpt.load_hf_gpt2(gpt.GPT(61, 16, d_model=48, n_layers=2, n_heads=4), hf)
    with pytest.raises(ValueError, match="missing"):
        gpt.load_hf_gpt2(gpt.GPT(61, 24, d_model=48, n_layers=2, n_heads=4, bias=False), hf)


def test_sample_next_temperature_and_top_k():
    logits = torch.tensor([[2.0, 1.0, 0.0, -1.0]]).expand(20000, 4)
    g = torch.Generator().manual_seed(0)
    for t in (0.5, 1.0, 2.0):
        ids = gpt.sample_next(logits, temperature=t, generator=g)
        freq = torch.bincount(ids, minlength=4) / len(ids)
        torch.testing.assert_close(freq, F.softmax(logits[0] / t, -1), atol=0.015, rtol=0)
    ids = gpt.sample_next(logits, top_k=2, generator=g)
    freq = torch.bincount(ids, minlength=4) / len(ids)
    torch.testing.assert_close(freq, F.softmax(torch.tensor([2.0, 1.0, -1e9, -1e9]), -1), atol=0.015, rtol=0)
    assert gpt.sample_next(logits[:3], temperature=0).tolist() == [0, 0, 0]
    assert gpt.sample_next(logits[:5], top_k=1, generator=g).tolist() == [0] * 5
    a = gpt.sample_next(logits[:50], generator=torch.Generator().manual_seed(3))
    b = gpt.sample_next(logits[:50], generator=torch.Generator().manual_seed(3))
    assert torch.equal(a, b)


def test_generate_and_its_weights():
    model = small_gpt(block_size=8).eval()
    start = torch.tensor([[1, 2, 3]])
    ids, w = model.generate(start, 10, top_k=5, generator=torch.Generator().manual_seed(0), need_weights=True)
    assert ids.shape == (1, 13) and torch.equal(ids[:, :3], start)
    assert w.shape == (1, 2, 4, 8, 8)
    same, none = model.generate(start, 10, top_k=5, generator=torch.Generator().manual_seed(0))
    assert none is None and torch.equal(ids, same)
    greedy, _ = model.generate(start, 4, temperature=0)
    for t in range(3, 7):  # greedy = argmax of the logits at each step
        assert greedy[0, t] == model(greedy[:, :t])[0][0, -1].argmax()


def test_training_step_reduces_loss():
    model = small_gpt()
    ids = torch.randint(0, 50, (4, 12))
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    first = model.loss(ids[:, :-1], ids[:, 1:]).item()
    for _ in range(30):
        loss = model.loss(ids[:, :-1], ids[:, 1:])
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < first - 1.0
