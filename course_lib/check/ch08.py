"""Exercise checks for chapter 08 (encoder-decoder): one head of cross-attention."""
import math

import torch

from .. import seq2seq as ref
from ._core import Fail, exercise

__all__ = ["cross_attention"]


def _softmax_masked(scores, mask):
    return torch.softmax(scores.masked_fill(~mask, float("-inf")), dim=-1)


@exercise
def cross_attention(c):
    """Checks cross_attention(x (B, T, d), memory (B, S, d), src_real (B, S) bool, Wq, Wk, Wv (d, d_k))
    -> (out (B, T, d_k), weights (B, T, S)). Reference: course_lib.seq2seq.cross_attention."""
    g = torch.Generator().manual_seed(0)
    B, T, S, d, dk = 2, 3, 5, 8, 4
    x, memory = torch.randn(B, T, d, generator=g), torch.randn(B, S, d, generator=g)
    Wq, Wk, Wv = (torch.randn(d, dk, generator=g) for _ in range(3))
    src_real = torch.tensor([[True] * 5, [True, True, True, False, False]])  # the second input is padded

    out = c.call(x, memory, src_real, Wq, Wk, Wv)
    if not isinstance(out, (tuple, list)) or len(out) != 2:
        raise Fail(f"return two things, (out, weights); got {type(out).__name__}"
                   + (f" of length {len(out)}" if isinstance(out, (tuple, list)) else ""))
    got, weights = out
    if isinstance(got, torch.Tensor) and got.dim() == 3 and got.shape[:2] == (B, S):
        raise Fail(f"out has one row per INPUT position (shape {tuple(got.shape)}): the queries must come "
                   "from the decoder (x @ Wq); only the keys and values come from the encoder's memory")
    if isinstance(weights, torch.Tensor) and weights.shape == (B, S, T):
        raise Fail("weights has shape (B, S, T); it must be (B, T, S): rows = output positions (queries), "
                   "columns = input positions (keys) — hint: q @ k.transpose(-2, -1)")
    q, k, v = x @ Wq, memory @ Wk, memory @ Wv
    scores = q @ k.transpose(-2, -1) / math.sqrt(dk)
    mask = src_real[:, None, :]
    over_queries = torch.softmax(scores.masked_fill(~mask, float("-inf")), dim=1)
    wrong_axis = ("the softmax ran over the output positions (dim 1); each row (one query) must sum to 1 over "
                  "the input positions (dim -1)")
    if isinstance(weights, torch.Tensor) and weights.shape == (B, T, S) and weights.is_floating_point() \
            and torch.isnan(weights).any() and torch.allclose(weights.nan_to_num(), over_queries.nan_to_num()):
        raise Fail(wrong_axis)
    if isinstance(got, torch.Tensor) and got.shape == (B, T, d):
        raise Fail(f"out has the model width d={d}, not d_k={dk}: the values must be projected too, "
                   "v = memory @ Wv")
    got = c.tensor(got, shape=(B, T, dk), what="out")
    weights = c.tensor(weights, shape=(B, T, S), what="weights")

    expected_out, expected_w = ref.cross_attention(x, memory, src_real, Wq, Wk, Wv)
    after = torch.softmax(scores, -1) * mask
    causal = mask & torch.ones(T, S, dtype=torch.bool).tril()
    wrong_weights = {
        "padding got attention weight: set the scores of padded input positions (src_real False) to -inf "
        "before the softmax": torch.softmax(scores, -1),
        "you forgot to divide the scores by sqrt(d_k)": _softmax_masked(q @ k.transpose(-2, -1), mask),
        "you applied a causal mask: in cross-attention every output position may read the WHOLE input "
        "(only padding is hidden)": _softmax_masked(scores, causal),
        wrong_axis: over_queries,
        "you zeroed the padded weights after the softmax, so the rows no longer sum to 1: mask the scores "
        "with -inf BEFORE the softmax": after,
        "you divided by sqrt(d) of the model width instead of sqrt(d_k) of the queries and keys":
            _softmax_masked(q @ k.transpose(-2, -1) / math.sqrt(d), mask),
    }
    c.close(weights, expected_w, mistakes=wrong_weights, what="weights",
            hint="scores = (x @ Wq) @ (memory @ Wk).transpose(-2, -1) / sqrt(d_k); mask; softmax(dim=-1)")
    c.close(got, expected_out, mistakes={
        "out uses the keys as values: v = memory @ Wv, not memory @ Wk": expected_w @ k,
    }, what="out", hint="out = weights @ (memory @ Wv)")

    real_all = torch.ones(B, S, dtype=torch.bool)
    out2 = c.call(x, memory, real_all, Wq, Wk, Wv)
    if not isinstance(out2, (tuple, list)) or len(out2) != 2:
        raise Fail("return (out, weights) every time")
    ref2 = ref.cross_attention(x, memory, real_all, Wq, Wk, Wv)
    c.close(c.tensor(out2[1], shape=(B, T, S), what="weights without padding"), ref2[1], what="weights without "
            "padding", hint="with no padding every input position may be attended")

    big = memory * 1e3
    out3 = c.call(x, big, src_real, Wq, Wk, Wv)
    if not isinstance(out3, (tuple, list)) or len(out3) != 2:
        raise Fail("return (out, weights) every time")
    w3 = out3[1]
    if isinstance(w3, torch.Tensor) and w3.is_floating_point() and torch.isnan(w3).any():
        raise Fail("with large scores your weights contain NaN: use torch.softmax (it subtracts the row "
                   "maximum) instead of exp() / sum")
    c.close(c.tensor(w3, shape=(B, T, S), what="weights for large inputs"),
            ref.cross_attention(x, big, src_real, Wq, Wk, Wv)[1], atol=1e-4, what="weights for large inputs",
            hint="use torch.softmax, which is stable for large scores")
