import math

import pytest
import torch

from course_lib import check, seq2seq


def stub(*args, **kwargs):
    raise NotImplementedError()


def fails(result, phrase):
    assert result.status == "failed", result
    assert phrase in result.message, result.message


def answer(x, memory, src_real, Wq, Wk, Wv, *, swap=False, mask=True, scale=True, causal=False, dim=-1,
           after=False, values=True, transpose=False, width=None):
    """A hand-written cross-attention with switches for the usual mistakes."""
    q, k, v = x @ Wq, memory @ Wk, memory @ Wv
    if swap:
        q, k, v = memory @ Wq, x @ Wk, x @ Wv
    if not values:
        v = k
    scores = q @ k.transpose(-2, -1)
    if scale:
        scores = scores / math.sqrt(width or q.size(-1))
    keep = src_real[:, None, :].expand_as(scores) if not swap else torch.ones_like(scores, dtype=torch.bool)
    if causal:
        keep = keep & torch.ones(scores.shape[-2:], dtype=torch.bool).tril()
    if mask and not after:
        scores = scores.masked_fill(~keep, float("-inf"))
    weights = torch.softmax(scores, dim=dim)
    if after:
        weights = weights * keep
    out = weights @ v
    return out, (weights.transpose(1, 2) if transpose else weights)


def test_reference_passes_and_stub():
    assert check.cross_attention(seq2seq.cross_attention).status == "passed"
    assert check.cross_attention(answer).status == "passed"
    assert check.cross_attention(stub).status == "not_implemented"


@pytest.mark.parametrize("kw, phrase", [
    (dict(swap=True), "queries must come from the decoder"),
    (dict(mask=False), "padding got attention"),
    (dict(scale=False), "sqrt(d_k)"),
    (dict(causal=True), "causal mask"),
    (dict(dim=1), "softmax ran over the output positions"),
    (dict(after=True), "after the softmax"),
    (dict(values=False), "keys as values"),
    (dict(transpose=True), "(B, S, T)"),
    (dict(width=8), "model width"),
])
def test_wrong_answers(kw, phrase):
    fails(check.cross_attention(lambda *a: answer(*a, **kw)), phrase)


def test_masked_the_real_tokens():
    def wrong(x, memory, src_real, Wq, Wk, Wv, fill=float("-inf")):
        q, k, v = x @ Wq, memory @ Wk, memory @ Wv
        w = torch.softmax((q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))).masked_fill(src_real[:, None, :], fill), -1)
        return w @ v, w
    fails(check.cross_attention(wrong), "you masked the real tokens")
    fails(check.cross_attention(lambda *a: wrong(*a, fill=-1e9)), "you masked the real tokens")


def test_softmax_over_queries_with_large_negative_mask():
    def wrong(x, memory, src_real, Wq, Wk, Wv):
        q, k, v = x @ Wq, memory @ Wk, memory @ Wv
        w = torch.softmax((q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))).masked_fill(~src_real[:, None, :], -1e9), 1)
        return w @ v, w
    fails(check.cross_attention(wrong), "softmax ran over the output positions")


def test_renormalised_after_softmax():
    def wrong(x, memory, src_real, Wq, Wk, Wv):
        q, k, v = x @ Wq, memory @ Wk, memory @ Wv
        w = torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(q.size(-1)), -1) * src_real[:, None, :]
        w = w / w.sum(-1, keepdim=True)
        return w @ v, w
    fails(check.cross_attention(wrong), "mask the scores with -inf before the softmax")


def test_swapped_return():
    def wrong(*a):
        out, w = seq2seq.cross_attention(*a)
        return w, out
    fails(check.cross_attention(wrong), "did you swap them?")


def test_unprojected_values():
    def wrong(x, memory, src_real, Wq, Wk, Wv):
        out, w = seq2seq.cross_attention(x, memory, src_real, Wq, Wk, Wv)
        return w @ memory, w
    fails(check.cross_attention(wrong), "values must be projected")


def test_naive_softmax_overflow():
    def wrong(x, memory, src_real, Wq, Wk, Wv):
        q, k, v = x @ Wq, memory @ Wk, memory @ Wv
        e = torch.exp(q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))) * src_real[:, None, :]
        w = e / e.sum(-1, keepdim=True)
        return w @ v, w
    fails(check.cross_attention(wrong), "NaN")


@pytest.mark.parametrize("garbage", [lambda *a: None, lambda *a: [1, 2], lambda *a: (None, None),
                                     lambda *a: torch.zeros(3), lambda *a: (torch.zeros(2, 3, 4), [[0.0]]),
                                     lambda *a: (torch.full((2, 3, 4), float("nan")), torch.zeros(2, 3, 5)),
                                     lambda *a: 1 / 0, lambda x: x])
def test_garbage(garbage):
    assert check.cross_attention(garbage).status == "failed"


# ---------------------------------------------------------------- greedy_decode
def loop(model, src, src_real, bos_id, eos_id, max_len, *, only_last=False, first=False, keep_bos=False,
         no_stop=False, no_pad=False, no_bos=False, stop_any=False, done_first=False, sample=False, row0=False):
    """A hand-written greedy loop with switches for the usual mistakes."""
    memory, _ = model.encode(src, src_real)
    out = torch.full((src.size(0), 1), bos_id if not no_bos else 5, device=src.device)
    done = torch.zeros(src.size(0), dtype=torch.bool, device=src.device)
    for _ in range(max_len):
        logits, _ = model.decode(out[:, -1:] if only_last else out, memory, src_real)
        nxt = logits[:, 0 if first else -1].argmax(-1)
        if sample:
            nxt = torch.multinomial(torch.softmax(logits[:, -1], -1), 1)[:, 0]
        if done_first:
            done |= nxt == eos_id
        if not no_pad:
            nxt = nxt.masked_fill(done, 0)
        out = torch.cat([out, nxt[:, None]], dim=1)
        done |= nxt == eos_id
        if (done.any() if stop_any else done[0] if row0 else done.all()) and not no_stop:
            break
    return out if keep_bos else out[:, 1:]


def test_greedy_decode_reference_and_stub():
    assert check.greedy_decode(seq2seq.greedy_decode).status == "passed"
    assert check.greedy_decode(loop).status == "passed"
    assert check.greedy_decode(stub).status == "not_implemented"


@pytest.mark.parametrize("kw, phrase", [
    (dict(only_last=True), "single token"),
    (dict(first=True), "logits[:, -1]"),
    (dict(keep_bos=True), "begin token"),
    (dict(no_stop=True), "stop as soon as all are done"),
    (dict(no_pad=True), "[PAD]"),
    (dict(no_bos=True), "begin token (bos_id)"),
    (dict(stop_any=True), "stop only when ALL rows have ended"),
    (dict(done_first=True), "lost their end token"),
    (dict(sample=True), "it does not sample"),
    (dict(row0=True), "stops when row 0 has produced its end token"),
])
def test_greedy_decode_wrong(kw, phrase):
    fails(check.greedy_decode(lambda *a: loop(*a, **kw)), phrase)


def test_greedy_decode_float_and_garbage():
    fails(check.greedy_decode(lambda *a: loop(*a).float()), "torch.long")
    for garbage in (lambda *a: None, lambda *a: [1, 2], lambda *a: 1 / 0, lambda m: m):
        assert check.greedy_decode(garbage).status == "failed"
    never_calls = lambda model, src, *a: torch.zeros(3, 5, dtype=torch.long)
    fails(check.greedy_decode(never_calls), "never called")


# ---- the module exercise DecoderBlock ---------------------------------------------------------------------
from course_lib import attention  # noqa: E402


class _Decoder(torch.nn.Module):
    """A student's DecoderBlock written the way the exercise asks, with switches for the usual mistakes."""

    def __init__(self, d_model, n_heads, dropout=0.0, **mistake):
        super().__init__()
        self.mistake = mistake
        self.ln1, self.ln2, self.ln3 = (torch.nn.LayerNorm(d_model) for _ in range(3))
        self.self_attn = attention.MultiHeadAttention(d_model, n_heads, dropout)
        self.cross_attn = attention.MultiHeadAttention(d_model, n_heads, dropout)
        act = torch.nn.ReLU() if mistake.get("relu") else torch.nn.GELU()
        self.ff = torch.nn.Sequential(torch.nn.Linear(d_model, 4 * d_model), act, torch.nn.Linear(4 * d_model, d_model))
        self.dropout = torch.nn.Dropout(0.0 if mistake.get("no_dropout") else dropout)
        if mistake.get("no_dropout"):
            self.self_attn.dropout.p = self.cross_attn.dropout.p = 0.0

    def forward(self, x, memory, src_mask=None, need_weights=False):
        got = self.mistake
        causal = None if got.get("no_causal") else attention.causal_mask(x.size(1), None if got.get("cpu") else x.device)
        if got.get("no_padding"):
            src_mask = None
        if got.get("queries_from_memory"):
            a, sw = self.self_attn(self.ln1(x), mask=causal, need_weights=need_weights)
            x = x + self.dropout(a)
            a, cw = self.cross_attn(memory, context=self.ln2(x), need_weights=need_weights)
            return a, (sw, cw)
        a, sw = self.self_attn(self.ln1(x), mask=causal, need_weights=need_weights)
        x = (0 if got.get("no_residual") else x) + self.dropout(a)
        cross_mask = causal if got.get("causal_in_cross") else None if got.get("self_twice") else src_mask
        a, cw = self.cross_attn(self.ln2(x), context=x if got.get("self_twice") else memory, mask=cross_mask,
                                need_weights=need_weights)
        x = (0 if got.get("no_cross_residual") else x) + self.dropout(a)
        ff = self.ff(self.ln3(x))
        x = x + (ff if got.get("ff_undropped") else self.dropout(ff))
        return x, (sw, cw)


def decoder_variant(**mistake):
    class DecoderBlock(_Decoder):
        def __init__(self, d_model, n_heads, dropout=0.0):
            super().__init__(d_model, n_heads, dropout, **mistake)
    return DecoderBlock


def test_decoder_block_reference_written_out_and_stub():
    assert check.DecoderBlock(seq2seq.DecoderBlock).status == "passed"
    assert check.DecoderBlock(decoder_variant()).status == "passed"

    class Unfinished(torch.nn.Module):
        def __init__(self, d_model, n_heads, dropout=0.0):
            raise NotImplementedError()
    assert check.DecoderBlock(Unfinished).status == "not_implemented"


@pytest.mark.parametrize("phrase, cls", [
    ("has no causal mask", decoder_variant(no_causal=True)),
    ("does not reach the cross-attention", decoder_variant(no_padding=True)),
    ("does not read the memory", decoder_variant(self_twice=True)),
    ("queries come from the decoder", decoder_variant(queries_from_memory=True)),
    ("around the self-attention is missing", decoder_variant(no_residual=True)),
    ("around the cross-attention is missing", decoder_variant(no_cross_residual=True)),
    ("uses ReLU", decoder_variant(relu=True)),
    ("never applies dropout", decoder_variant(no_dropout=True)),
    ("applies self.dropout 2 times", decoder_variant(ff_undropped=True)),
    ("on the CPU while its input is elsewhere", decoder_variant(cpu=True)),
    ("belongs to the self-attention", decoder_variant(causal_in_cross=True)),
])
def test_decoder_block_mistakes_are_named(phrase, cls):
    result = check.DecoderBlock(cls)
    assert result.status == "failed" and phrase in result.message, result.message


def test_seq2seq_takes_the_students_block():
    torch.manual_seed(0)
    model = seq2seq.Seq2Seq(9, max_len=8, d_model=16, n_heads=4, n_layers=2, block=decoder_variant())
    reference = seq2seq.Seq2Seq(9, max_len=8, d_model=16, n_heads=4, n_layers=2)
    reference.load_state_dict(model.state_dict())
    src, tgt = torch.randint(1, 9, (2, 5)), torch.randint(1, 9, (2, 4))
    real = torch.ones(2, 5, dtype=torch.bool)
    assert torch.allclose(model(src, real, tgt)[0], reference(src, real, tgt)[0], atol=1e-5)
