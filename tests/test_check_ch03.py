"""Chapter 03 checkers: the reference passes, a stub is 'not implemented', named mistakes are recognised."""
import math
import warnings

import numpy as np
import pytest
import torch

from course_lib import attention as A
from course_lib import check


def stub(*args, **kwargs):
    raise NotImplementedError()


# --- softmax -------------------------------------------------------------------------------------------

def test_softmax_reference_and_stub():
    assert check.softmax(A.softmax).status == "passed"
    assert check.softmax(lambda x: torch.softmax(x, -1)).status == "passed"
    assert check.softmax(stub).status == "not_implemented"


@pytest.mark.parametrize("phrase, fn", [
    ("wrong axis", lambda x: torch.exp(x) / torch.exp(x).sum(0, keepdim=True)),
    ("wrong axis", lambda x: torch.softmax(x, dim=1)),
    ("forgot the exponential", lambda x: x / x.sum(-1, keepdim=True)),
    ("forgot to divide", lambda x: torch.exp(x)),
    ("subtract each row's maximum", lambda x: torch.exp(x) / torch.exp(x).sum(-1, keepdim=True)),
    ("its own sum", lambda x: torch.exp(x) / torch.exp(x).sum()),
    ("keepdim=True", lambda x: torch.exp(x) / torch.exp(x).sum(-1)),
    ("keepdim=True", lambda x: torch.exp(x - x.amax(-1)) / torch.exp(x - x.amax(-1)).sum(-1)),
    ("maximum of the whole tensor", lambda x: torch.exp(x - x.max()) / torch.exp(x - x.max()).sum(-1, keepdim=True)),
    ("clamping", lambda x: torch.softmax(x.clamp(-80, 80), -1)),
    ("clamping", lambda x: torch.exp(x.clamp(-50, 50)) / torch.exp(x.clamp(-50, 50)).sum(-1, keepdim=True)),
    ("log-weights", lambda x: torch.log_softmax(x, -1)),
    ("sigmoid", torch.sigmoid),
    ("only for a 2-D input", lambda x: torch.stack([torch.exp(r - r.max()) / torch.exp(r - r.max()).sum() for r in x])),
])
def test_softmax_mistakes_are_named(phrase, fn):
    result = check.softmax(fn)
    assert result.status == "failed" and phrase in result.message, result.message


# --- attention_scores ----------------------------------------------------------------------------------

def ref_scores(q, k):
    return q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))


def test_attention_scores_reference_and_stub():
    assert check.attention_scores(ref_scores).status == "passed"
    assert check.attention_scores(stub).status == "not_implemented"


@pytest.mark.parametrize("phrase, fn", [
    ("forgot to scale", lambda q, k: q @ k.transpose(-2, -1)),
    ("divided by d", lambda q, k: q @ k.transpose(-2, -1) / q.size(-1)),
    ("sequence length", lambda q, k: q @ k.transpose(-2, -1) / math.sqrt(k.size(-2))),
    ("number of keys", lambda q, k: q @ k.transpose(-2, -1) / math.sqrt(k.size(-2))),
    ("number of queries", lambda q, k: q @ k.transpose(-2, -1) / math.sqrt(q.size(-2))),
    ("forget to transpose k", lambda q, k: q @ k / math.sqrt(q.size(-1))),
    ("not k @ qᵀ", lambda q, k: k @ q.transpose(-2, -1) / math.sqrt(q.size(-1))),
    ("k.T on a batched", lambda q, k: q @ k.T / math.sqrt(q.size(-1))),
    ("** binds tighter", lambda q, k: q @ k.transpose(-2, -1) / q.size(-1) ** 1 / 2),
    ("multiplied by √d", lambda q, k: q @ k.transpose(-2, -1) * math.sqrt(q.size(-1))),
    ("the size of axis 1 of q", lambda q, k: q @ k.transpose(-2, -1) / math.sqrt(q.shape[1])),
    ("element by element (*)", lambda q, k: q * k / math.sqrt(q.size(-1))),
])
def test_attention_scores_mistakes_are_named(phrase, fn):
    with warnings.catch_warnings():  # PyTorch warns about k.T on 3-D tensors only once per process
        warnings.simplefilter("ignore", UserWarning)
        result = check.attention_scores(fn)
    assert result.status == "failed" and phrase in result.message, result.message


# --- self_attention ------------------------------------------------------------------------------------

def ref_self_attention(x, w_q, w_k, w_v):
    return A.scaled_dot_product_attention(x @ w_q, x @ w_k, x @ w_v)


def variant(weights_fn=None, out_fn=None):
    """A self_attention with one step replaced: weights_fn(q, k, d) or out_fn(weights, x, v)."""
    def fn(x, w_q, w_k, w_v):
        q, k, v = x @ w_q, x @ w_k, x @ w_v
        d = k.size(-1)
        w = weights_fn(q, k, d) if weights_fn else torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(d), -1)
        return (out_fn(w, x, v) if out_fn else w @ v), w
    return fn


def test_self_attention_reference_and_stub():
    assert check.self_attention(ref_self_attention).status == "passed"
    assert check.self_attention(stub).status == "not_implemented"


@pytest.mark.parametrize("phrase, fn", [
    ("forgot to scale", variant(lambda q, k, d: torch.softmax(q @ k.transpose(-2, -1), -1))),
    ("wrong axis", variant(lambda q, k, d: torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(d), -2))),
    ("transposed", variant(lambda q, k, d: torch.softmax(k @ q.transpose(-2, -1) / math.sqrt(d), -2))),
    ("used w_q for the keys", variant(lambda q, k, d: torch.softmax(q @ q.transpose(-2, -1) / math.sqrt(d), -1))),
    ("raw scores", variant(lambda q, k, d: q @ k.transpose(-2, -1) / math.sqrt(d))),
    ("instead of the values", variant(out_fn=lambda w, x, v: w @ x)),
    ("transposed weights", variant(out_fn=lambda w, x, v: w.transpose(-2, -1) @ v)),
    ("return two things", lambda x, w_q, w_k, w_v: ref_self_attention(x, w_q, w_k, w_v)[0]),
    ("scaled by √d_in", variant(lambda q, k, d: torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(6), -1))),
    ("scaled by √d_v", lambda x, w_q, w_k, w_v: variant(
        lambda q, k, d: torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(w_v.size(-1)), -1))(x, w_q, w_k, w_v)),
    ("you returned (weights, out)", lambda x, w_q, w_k, w_v: ref_self_attention(x, w_q, w_k, w_v)[::-1]),
    ("scaled after the softmax", variant(lambda q, k, d: torch.softmax(q @ k.transpose(-2, -1), -1) / math.sqrt(d))),
    ("scores are transposed (k qᵀ)", variant(lambda q, k, d: torch.softmax(k @ q.transpose(-2, -1) / math.sqrt(d), -1))),
    ("causal mask", variant(lambda q, k, d: torch.softmax((q @ k.transpose(-2, -1) / math.sqrt(d)).masked_fill(
        torch.ones(q.size(-2), q.size(-2), dtype=torch.bool).triu(1), float("-inf")), -1))),
])
def test_self_attention_mistakes_are_named(phrase, fn):
    result = check.self_attention(fn)
    assert result.status == "failed" and phrase in result.message, result.message


def test_self_attention_scale_by_input_width_is_named():
    """The realistic slip: scale by x.size(-1) (d_in) instead of k.size(-1)."""
    def fn(x, w_q, w_k, w_v):
        q, k, v = x @ w_q, x @ w_k, x @ w_v
        w = torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(x.size(-1)), -1)
        return w @ v, w
    result = check.self_attention(fn)
    assert result.status == "failed" and "√d_in" in result.message, result.message


def test_self_attention_messages_use_a_singular_noun():
    result = check.self_attention(lambda x, w_q, w_k, w_v: (torch.zeros(7, 5), torch.zeros(3, 3)))
    assert result.status == "failed" and "your weight matrix has shape" in result.message, result.message


# --- garbage never raises ------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["softmax", "attention_scores", "self_attention"])
@pytest.mark.parametrize("garbage", [
    lambda *a: None,
    lambda *a: [[0.0, 1.0]],
    lambda *a: np.zeros((3, 3)),
    lambda *a: torch.zeros(2, 2),
    lambda *a: torch.full((5, 7), float("nan")),
    lambda *a: (torch.zeros(5, 6), None),
    lambda *a: 1 / 0,
])
def test_garbage_fails_without_raising(name, garbage):
    result = getattr(check, name)(garbage)
    assert result.status == "failed" and result.message
    assert getattr(check, name)(42).status == "failed"


def test_strict_mode_raises(monkeypatch):
    monkeypatch.setenv("COURSE_STRICT", "1")
    with pytest.raises(AssertionError):
        check.softmax(lambda x: x)


def test_an_in_place_softmax_is_caught():
    def softmax(scores):
        scores -= scores.amax(-1, keepdim=True)      # overwrites the caller's scores
        e = scores.exp()
        return e / e.sum(-1, keepdim=True)
    result = check.softmax(softmax)
    assert result.status == "failed" and "changed its input (`scores`) in place" in result.message
