import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from course_lib import check, gpt, ngram


def stub(*args, **kwargs):
    raise NotImplementedError()


def fails(result, phrase):
    assert result.status == "failed", result
    assert phrase in result.message, result.message


# ---------------------------------------------------------------- causal_mask
def test_causal_mask_reference_and_stub():
    assert check.causal_mask(gpt.causal_mask).status == "passed"
    assert check.causal_mask(stub).status == "not_implemented"


@pytest.mark.parametrize("wrong, phrase", [
    (lambda T: torch.ones(T, T, dtype=torch.bool).triu(), "see the future"),
    (lambda T: ~torch.ones(T, T, dtype=torch.bool).tril(), "True should mean 'may attend'"),
    (lambda T: torch.ones(T, T, dtype=torch.bool).tril(-1), "attend to itself"),
    (lambda T: torch.ones(T, T).tril(), "dtype torch.float32"),
    (lambda T: torch.zeros(T, T).masked_fill(~torch.ones(T, T, dtype=torch.bool).tril(), float("-inf")),
     "additive float mask"),
    (lambda T: torch.zeros(T, T).masked_fill(~torch.ones(T, T, dtype=torch.bool).tril(), -1e9),
     "additive float mask"),
    (lambda T: torch.ones(T, T, dtype=torch.bool), "allows everything"),
    (lambda T: torch.ones(T, T, dtype=torch.bool).tril().T.contiguous()[:, :T - 1] if T > 1 else
     torch.ones(1, 1, dtype=torch.bool), "shape"),
])
def test_causal_mask_wrong(wrong, phrase):
    fails(check.causal_mask(wrong), phrase)


@pytest.mark.parametrize("garbage", [lambda T: None, lambda T: [[1]], lambda T: torch.full((T, T), float("nan")),
                                     lambda T: 1 / 0, "not a function"])
def test_causal_mask_garbage(garbage):
    assert check.causal_mask(garbage).status == "failed"


# ---------------------------------------------------------------- sample_next
def test_sample_next_reference_and_stub():
    assert check.sample_next(gpt.sample_next).status == "passed"
    assert check.sample_next(stub).status == "not_implemented"


def student_sample(logits, temperature=1.0, top_k=None, generator=None):
    """A correct answer written differently from the reference (sort instead of topk)."""
    logits = logits / temperature
    if top_k is not None:
        kth = logits.sort(dim=-1, descending=True).values[:, top_k - 1:top_k]
        logits = torch.where(logits < kth, torch.full_like(logits, -math.inf), logits)
    return torch.multinomial(torch.softmax(logits, -1), 1, generator=generator)[:, 0]


def test_sample_next_alternative_correct_answer():
    assert check.sample_next(student_sample).status == "passed"


def no_top_k(logits, temperature=1.0, top_k=None, generator=None):
    return student_sample(logits, temperature, None, generator)


def times_t(logits, temperature=1.0, top_k=None, generator=None):
    return student_sample(logits * temperature * temperature, temperature, top_k, generator)


def argmax(logits, temperature=1.0, top_k=None, generator=None):
    return logits.argmax(-1)


def no_generator(logits, temperature=1.0, top_k=None, generator=None):
    return student_sample(logits, temperature, top_k, None)


def keeps_smallest(logits, temperature=1.0, top_k=None, generator=None):
    if top_k is not None:
        kth = logits.topk(top_k, dim=-1, largest=False).values[:, -1:]
        logits = logits.masked_fill(logits > kth, -math.inf)
    return student_sample(logits, temperature, None, generator)


def off_by_one(logits, temperature=1.0, top_k=None, generator=None):
    return student_sample(logits, temperature, None if top_k is None else top_k - 1, generator)


def keeps_dim(logits, temperature=1.0, top_k=None, generator=None):
    return student_sample(logits, temperature, top_k, generator)[:, None]


def top_k_from_row_0(logits, temperature=1.0, top_k=None, generator=None):
    logits = logits / temperature
    if top_k is not None:
        kth = torch.topk(logits[0], top_k).values[-1]
        logits = logits.masked_fill(logits < kth, -math.inf)
    return torch.multinomial(torch.softmax(logits, -1), 1, generator=generator)[:, 0]


def softmax_dim_0(logits, temperature=1.0, top_k=None, generator=None):
    logits = logits / temperature
    if top_k is not None:
        logits = logits.masked_fill(logits < logits.topk(top_k, dim=-1).values[:, -1:], -math.inf)
    return torch.multinomial(torch.softmax(logits, 0), 1, generator=generator)[:, 0]


def fill_zero(logits, temperature=1.0, top_k=None, generator=None):
    logits = logits / temperature
    if top_k is not None:
        logits = logits.masked_fill(logits < logits.topk(top_k, dim=-1).values[:, -1:], 0.0)
    return torch.multinomial(torch.softmax(logits, -1), 1, generator=generator)[:, 0]


def no_temperature(logits, temperature=1.0, top_k=None, generator=None):
    return student_sample(logits, 1.0, top_k, generator)


def naive_exp(logits, temperature=1.0, top_k=None, generator=None):
    e = torch.exp(logits / temperature)
    if top_k is not None:
        e = e.masked_fill(logits < logits.topk(top_k, dim=-1).values[:, -1:], 0)
    return torch.multinomial(e / e.sum(-1, keepdim=True), 1, generator=generator)[:, 0]


@pytest.mark.parametrize("wrong, phrase", [
    (no_top_k, "ignores top_k"), (times_t, "multiplied the logits by the temperature"),
    (argmax, "argmax"), (no_generator, "generator=generator"), (keeps_smallest, "k smallest"),
    (off_by_one, "off by one"), (keeps_dim, "squeeze"), (no_temperature, "ignores the temperature"),
    (naive_exp, "large logits"), (top_k_from_row_0, "top-k must be per row"),
    (softmax_dim_0, "over the batch axis (dim 0)"), (fill_zero, "instead of -inf"),
    (lambda logits, **kw: torch.zeros(len(logits)), "torch.long"),
])
def test_sample_next_wrong(wrong, phrase):
    fails(check.sample_next(wrong), phrase)


@pytest.mark.parametrize("garbage", [lambda *a, **k: None, lambda *a, **k: [0, 1],
                                     lambda logits, **k: torch.full((len(logits),), float("nan")),
                                     lambda logits, **k: np.zeros(len(logits)), lambda logits: logits[:, 0],
                                     lambda logits, **k: torch.full((len(logits),), 99)])
def test_sample_next_garbage(garbage):
    assert check.sample_next(garbage).status == "failed"


# ---------------------------------------------------------------- bigram_log_probs
def test_bigram_reference_and_stub():
    assert check.bigram_log_probs(ngram.bigram_log_probs).status == "passed"
    assert check.bigram_log_probs(stub).status == "not_implemented"


def loop_counts(ids, V):
    counts = torch.zeros(V, V, device=ids.device)
    for a, b in zip(ids[:-1].tolist(), ids[1:].tolist()):
        counts[a, b] += 1
    return counts


def test_bigram_alternative_correct_answer():
    def answer(ids, vocab_size, alpha=1.0):
        counts = loop_counts(ids, vocab_size) + alpha
        return torch.log(counts / counts.sum(dim=1, keepdim=True))
    assert check.bigram_log_probs(answer).status == "passed"


def columns(ids, V, alpha=1.0):
    c = loop_counts(ids, V) + alpha
    return (c / c.sum(0, keepdim=True)).log()


def no_log(ids, V, alpha=1.0):
    c = loop_counts(ids, V) + alpha
    return c / c.sum(1, keepdim=True)


def no_smoothing(ids, V, alpha=1.0):
    c = loop_counts(ids, V)
    return (c / c.sum(1, keepdim=True)).log()


def fancy_index(ids, V, alpha=1.0):
    c = torch.zeros(V, V)
    c[ids[:-1], ids[1:]] += 1
    c += alpha
    return (c / c.sum(1, keepdim=True)).log()


def transposed(ids, V, alpha=1.0):
    return ngram.bigram_log_probs(ids, V, alpha).T


def next_prev(ids, V, alpha=1.0):
    c = torch.zeros(V, V)
    c.index_put_((ids[1:], ids[:-1]), torch.ones(len(ids) - 1), accumulate=True)
    c += alpha
    return (c / c.sum(1, keepdim=True)).log()


def joint(ids, V, alpha=1.0):
    c = loop_counts(ids, V) + alpha
    return (c / c.sum()).log()


def plus_one(ids, V, alpha=1.0):
    return ngram.bigram_log_probs(ids, V, 1.0)


@pytest.mark.parametrize("wrong, phrase", [
    (columns, "normalised each column"), (no_log, "not log-probabilities"), (no_smoothing, "forgot the smoothing"),
    (fancy_index, "counted only once"), (transposed, "transposed"), (plus_one, "smoothing is off"),
    (next_prev, "wrong way round"), (joint, "joint"),
    (lambda ids, V, alpha=1.0: ngram.bigram_log_probs(ids, V, alpha) / math.log(2), "log base"),
])
def test_bigram_wrong(wrong, phrase):
    fails(check.bigram_log_probs(wrong), phrase)


@pytest.mark.parametrize("garbage", [lambda *a, **k: None, lambda *a, **k: [[0.0]],
                                     lambda ids, V, alpha=1.0: torch.full((V, V), float("nan")),
                                     lambda ids, V, alpha=1.0: torch.zeros(V)])
def test_bigram_garbage(garbage):
    assert check.bigram_log_probs(garbage).status == "failed"


# ---- the module exercise Block and the sampling loop generate ----------------------------------------------
from course_lib.attention import MultiHeadAttention  # noqa: E402


class _GPTBlock(torch.nn.Module):
    """A student's GPT block written the way the exercise asks, with switches for the usual mistakes."""

    def __init__(self, d_model, n_heads, dropout=0.0, **mistake):
        super().__init__()
        self.mistake, self.p = mistake, dropout
        self.ln1 = torch.nn.LayerNorm(d_model)
        self.attn = MultiHeadAttention(d_model, n_heads, dropout=dropout)
        self.ln2 = torch.nn.LayerNorm(d_model)
        self.ff = gpt.FeedForward(d_model, dropout=dropout)
        self.dropout = torch.nn.Dropout(dropout)

    def forward(self, x, need_weights=False):
        got, T = self.mistake, x.size(1)
        ones = torch.ones(T, T, dtype=torch.bool, device=None if got.get("cpu_mask") else x.device)
        mask = {"none": None, "tril-1": ones.tril(-1), "tril+1": ones.tril(1), "inverted": ~ones.tril()
                }.get(got.get("mask"), ones.tril())
        drop = self.dropout
        if got.get("eval_dropout"):
            drop = lambda t: F.dropout(t, self.p)  # noqa: E731
        if got.get("no_dropout"):  # dropout passed on nowhere
            drop, self.attn.dropout.p, self.ff.dropout.p = (lambda t: t), 0.0, 0.0
        if got.get("post_ln"):
            a, w = self.attn(x, mask=mask, need_weights=need_weights)
            x = self.ln1(x + drop(a))
            return self.ln2(x + self.ff(x)), w
        n1, n2 = (self.ln2, self.ln1) if got.get("swap") else (self.ln1, self.ln2)
        if got.get("positional"):
            a, w = self.attn(n1(x), mask, need_weights=need_weights)
        else:
            a, w = self.attn(n1(x), mask=mask, need_weights=need_weights and not got.get("no_weights"))
        x = (0 if got.get("no_residual") else x) + drop(a)
        ff = self.ff(n2(x))
        x = x + (drop(ff) if got.get("double_dropout") else ff)
        if got.get("final_norm"):
            x = n2(x)
        return (x.detach() if got.get("detach") else x), w


def gpt_block(**mistake):
    class Block(_GPTBlock):
        def __init__(self, d_model, n_heads, dropout=0.0):
            super().__init__(d_model, n_heads, dropout, **mistake)
    return Block


def test_block_reference_written_out_and_stub():
    assert check.Block(gpt.Block).status == "passed"
    assert check.Block(gpt_block()).status == "passed"

    class Unfinished(torch.nn.Module):
        def __init__(self, d_model, n_heads, dropout=0.0):
            raise NotImplementedError()
    assert check.Block(Unfinished).status == "not_implemented"


@pytest.mark.parametrize("phrase, cls", [
    ("post-LN", gpt_block(post_ln=True)),
    ("residual connection around the attention is missing", gpt_block(no_residual=True)),
    ("ln1 and ln2 are swapped", gpt_block(swap=True)),
    ("the causal mask is missing", gpt_block(mask="none")),
    ("position 0 attends to nothing", gpt_block(mask="tril-1")),
    ("off by one", gpt_block(mask="tril+1")),
    ("wrong way round", gpt_block(mask="inverted")),
    ("normalised once more", gpt_block(final_norm=True)),
    ("returned no weights", gpt_block(no_weights=True)),
    ("in eval mode", gpt_block(eval_dropout=True)),
    ("never applies dropout", gpt_block(no_dropout=True)),
    ("carries no gradient", gpt_block(detach=True)),
    ("applies self.dropout 2 times", gpt_block(double_dropout=True)),
    ("on the CPU while its input is elsewhere", gpt_block(cpu_mask=True)),
    ("pass the mask by keyword", gpt_block(positional=True)),
])
def test_block_mistakes_are_named(phrase, cls):
    result = check.Block(cls)
    assert result.status == "failed" and phrase in result.message, result.message


def test_block_layout_is_explained():
    class Fused(_GPTBlock):
        def __init__(self, d_model, n_heads, dropout=0.0):
            super().__init__(d_model, n_heads, dropout)
            self.mlp = self.ff
            del self.ff
    assert "parameters the layout does not: `mlp" in check.Block(Fused).message


def test_gpt_trains_with_the_students_block():
    torch.manual_seed(0)
    model = gpt.GPT(7, block_size=8, d_model=16, n_layers=2, n_heads=4, block=gpt_block())
    assert isinstance(model.blocks[0], _GPTBlock)
    ids = torch.randint(0, 7, (2, 8))
    reference = gpt.GPT(7, block_size=8, d_model=16, n_layers=2, n_heads=4)
    reference.load_state_dict(model.state_dict())
    assert torch.allclose(model(ids)[0], reference(ids)[0], atol=1e-5)


def generate_variant(mistake=None):
    def generate(model, ids, max_new_tokens, temperature=1.0, top_k=None, generator=None):
        with torch.set_grad_enabled(mistake == "grad"):
            rows = ids[:1] if mistake == "row0" else ids
            for _ in range(max_new_tokens - (mistake == "one_short")):
                context = {"no_crop": rows, "front": rows[:, :model.block_size],
                           "last_only": rows[:, -1:]}.get(mistake, rows[:, -model.block_size:])
                logits, _ = model(context)
                last = logits[:, 0] if mistake == "first_position" else logits[:, -1]
                nxt = gpt.sample_next(last, temperature=1.0 if mistake == "temperature" else temperature,
                                      top_k=None if mistake == "top_k" else top_k,
                                      generator=None if mistake == "generator" else generator)
                if mistake == "argmax":
                    nxt = last.argmax(-1)
                if mistake != "no_append":
                    rows = torch.cat([rows, nxt[:, None]], dim=1)
            return rows[:, ids.size(1):] if mistake == "only_new" else rows
    return generate


def test_generate_reference_written_out_and_stub():
    assert check.generate(gpt.generate).status == "passed"
    assert check.generate(generate_variant()).status == "passed"
    assert check.generate(stub).status == "not_implemented"


@pytest.mark.parametrize("mistake, phrase", [
    ("no_crop", "crop the context to the last block_size"),
    ("front", "not the first"),
    ("last_only", "only the last token"),
    ("first_position", "first position's logits"),
    ("temperature", "pass temperature on"),
    ("top_k", "pass top_k on"),
    ("generator", "pass generator on"),
    ("argmax", "always returns the most likely"),
    ("grad", "torch.no_grad()"),
    ("one_short", "one token too few"),
    ("only_new", "only the new tokens"),
    ("no_append", "never reach ids"),
    ("row0", "only one row"),
])
def test_generate_mistakes_are_named(mistake, phrase):
    fails(check.generate(generate_variant(mistake)), phrase)


def test_generate_unpacking_hint():
    def no_unpack(model, ids, max_new_tokens, temperature=1.0, top_k=None, generator=None):
        with torch.no_grad():
            logits = model(ids[:, -model.block_size:])
            return torch.cat([ids, logits[:, -1].argmax(-1)[:, None]], 1)
    fails(check.generate(no_unpack), "returns a pair (logits, weights)")


def test_generate_with_the_students_own_sample_next_passes():
    """The notebook's generate calls the student's sample_next, which need not know temperature=0."""
    @torch.no_grad()
    def generate(model, ids, max_new_tokens, temperature=1.0, top_k=None, generator=None):
        for _ in range(max_new_tokens):
            logits, _ = model(ids[:, -model.block_size:])
            ids = torch.cat([ids, student_sample(logits[:, -1], temperature, top_k, generator)[:, None]], dim=1)
        return ids
    assert check.generate(generate).status == "passed"
