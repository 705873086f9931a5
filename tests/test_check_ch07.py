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
    counts = torch.zeros(V, V)
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
