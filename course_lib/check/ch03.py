"""Exercise checks for chapter 03 (self-attention by hand): softmax, attention_scores, self_attention."""
import math
import re

import torch

from .. import attention as ref
from ._core import Fail, exercise

__all__ = ["softmax", "attention_scores", "self_attention"]


def _rand(*shape, seed=0):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


def _call(c, *args, lengths=None, note=None):
    """c.call, translating the shape errors of a forgotten transpose into the mistake's name; `lengths`
    (T, S): the numbers of queries and keys, which meet element by element in q * k; `note`: what to add
    to a shape error instead of the note about k's transpose."""
    try:
        return c.call(*args)
    except Fail as e:
        sizes = re.search(r"size of tensor a \((\d+)\) must match the size of tensor b \((\d+)\)", str(e))
        if sizes and lengths and len(set(lengths)) == 2 and {int(n) for n in sizes.groups()} == set(lengths):
            raise Fail(f"{e} — q and k met element by element (*): every query against every key is a matrix "
                       "product (@), with k's last two axes swapped") from None
        if "t() expects a tensor with <= 2 dimensions" in str(e):
            raise Fail(f"{e} — .t() (like .T) is for a matrix only: with a batch axis in front, swap only the "
                       "last two axes, transpose(-2, -1)") from None
        if note and ("cannot be multiplied" in str(e) or "must match the size" in str(e)):
            raise Fail(f"{e} — {note}") from None
        if "cannot be multiplied" in str(e) or "must match the size" in str(e):
            raise Fail(f"{e} — did you forget to transpose k, or use k.T on a batched tensor (or "
                       "transpose(0, 1))? Swap only k's last two axes, transpose(-2, -1): (T, d) @ (d, S) -> (T, S)"
                       ) from None
        raise


def _softmax_call(c, x):
    """c.call, naming the shape error of a row sum (or maximum) taken without keepdim=True."""
    try:
        return c.call(x)
    except Fail as e:
        if "must match the size of tensor b" in str(e):
            raise Fail(f"{e} — did you forget keepdim=True? x.sum(dim=-1) has lost the row axis; "
                       "x.sum(dim=-1, keepdim=True) has shape (rows, 1) and divides each row by its own sum"
                       ) from None
        if x.dim() == 1:
            raise Fail(f"{e} — this was a single row of scores, shape ({x.size(0)},): the exercise's softmax "
                       "takes one row as well as a matrix") from None
        raise


@exercise
def softmax(c):
    """Checks softmax(scores) -> weights over the last axis, stable at large logits.
    Reference: course_lib.attention.softmax."""
    c.reference = ref.softmax
    c.defaults(ref.softmax)
    for shape, seed in (((4, 6), 0), ((2, 3, 5), 1), ((5,), 2)):   # a matrix, a batch of them, one row
        x = _rand(*shape, seed=seed)
        out = c.tensor(_softmax_call(c, x), shape=shape, what="your result" if x.dim() > 1 else
                       "your result for a single row of scores")
        wrong_axis = {} if x.dim() == 1 else {
            "you normalised over the wrong axis: each row (the last axis, dim=-1) must sum to 1":
                ref.softmax(x, dim=0),
            "you normalised over the wrong axis: use dim=-1 (the last axis), which also works with a batch "
            "axis in front": ref.softmax(x, dim=1)}
        c.close(out, ref.softmax(x), mistakes={
            **wrong_axis,
            "you forgot the exponential: softmax exponentiates the scores, then divides by their row's total":
                x / x.sum(-1, keepdim=True),
            "you forgot to divide by the sum: the weights must add up to 1": torch.exp(x),
            "the scores were divided by the maximum instead of subtracting it: subtracting the row's maximum "
            "cancels in the division and leaves the weights unchanged, dividing by it changes them":
                torch.exp(x / x.amax(-1, keepdim=True)) / torch.exp(x / x.amax(-1, keepdim=True)).sum(-1, keepdim=True),
            "you divided by the sum over the whole tensor; divide each row by its own sum "
            "(.sum(dim=-1, keepdim=True))": torch.exp(x) / torch.exp(x).sum(),
            **({"each matrix x[i] was normalised as a whole (it sums to 1, not each of its rows): a loop over "
                "the first axis, or a sum over more than the last axis, works only for a 2-D input — normalise "
                "over dim=-1 alone": torch.exp(x) / torch.exp(x).sum((-2, -1), keepdim=True)} if x.dim() > 2 else {}),
            "these are log-weights (log_softmax, x minus its log-sum-exp): softmax returns the weights "
            "themselves, positive and summing to 1 along each row": torch.log_softmax(x, -1),
            "that is the sigmoid: it squashes each score on its own, so a row does not sum to 1 — softmax makes "
            "the scores of a row compete for one unit of weight": torch.sigmoid(x),
        }, hint="the exponential of each score, divided by its row's total (dim=-1)")
    # rows: huge logits, a row far below the others, a tie at the top, two large logits 5 apart
    big = torch.tensor([[1e4, 0.0, -1e4], [-1e4, -1e4, -1e4], [3.0, 1e4, 1e4], [1e3, 1e3 - 5, 0.0]])
    out = _softmax_call(c, big)
    if isinstance(out, torch.Tensor) and out.is_floating_point() and not torch.isfinite(out).all():
        alone = _softmax_call(c, big[1:2])              # the low row on its own: its maximum is the overall one
        if (out.shape == big.shape and torch.isfinite(out[0]).all() and isinstance(alone, torch.Tensor)
                and alone.is_floating_point() and torch.isfinite(alone).all()):
            raise Fail("a row whose scores all lie far below the largest score in the tensor gives NaN: you "
                       "subtracted the maximum of the whole tensor — hint: subtract each row's own maximum "
                       "(amax over dim=-1, with keepdim=True)")
        raise Fail("at logits of ±1e4 your softmax gives NaN or inf: exp(10000) overflows — hint: subtract "
                   "each row's maximum before exp(); it cancels in the division, so the result is the same")
    out = c.tensor(out, shape=big.shape, what="softmax at large logits")
    c.expect(abs(out[3, 0] - out[3, 1]) > 0.5,
             f"scores 1000 and 995 got weights {out[3, 0]:.3f} and {out[3, 1]:.3f}, but 1000 should get 0.993: "
             "clipping (clamping) the scores before exp() erases the difference between large scores — hint: "
             "subtract each row's maximum instead, which keeps every difference")
    c.close(out, ref.softmax(big), what="softmax at large logits", magnitude=big.abs().max(),
            hint="subtract each row's maximum (over dim=-1, with keepdim=True) before exp()")


@exercise
def attention_scores(c):
    """Checks attention_scores(q (..., T, d), k (..., S, d)) -> scaled scores (..., T, S) = q kᵀ / √d.
    Reference: course_lib.attention.scaled_dot_product_attention (its scores before the softmax)."""
    c.reference = lambda q, k: q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))
    cases = (((5, 8), (7, 8)), ((4, 4), (4, 4)), ((2, 3, 5, 8), (2, 3, 6, 8)))
    for seed, (q_shape, k_shape) in enumerate(cases):
        q, k = _rand(*q_shape, seed=seed), _rand(*k_shape, seed=seed + 10)
        d, T, S = q.size(-1), q.size(-2), k.size(-2)
        raw = q @ k.transpose(-2, -1)
        out = _call(c, q, k, lengths=(T, S))
        if isinstance(out, torch.Tensor) and T != S and out.shape == raw.transpose(-2, -1).shape:
            raise Fail(f"your scores have shape {tuple(out.shape)} = (S, T), transposed: rows must be queries "
                       "(who looks) and columns keys, i.e. q @ kᵀ, not k @ qᵀ")
        out = c.tensor(out, shape=raw.shape, what=f"attention_scores for q {q_shape}, k {k_shape}")
        axis_sizes = {}                              # a size of another axis of q or k, used in place of d
        for tensor, name in ((q, "q"), (k, "k")):
            for i, n in enumerate(tensor.shape[:-1]):
                if n not in (d, T, S, 1):
                    axis_sizes.setdefault(n, f"you scaled by √{n}, the size of axis {i} of {name}; d is the last "
                                             "axis, q.size(-1) — count from the end, so a batch axis in front "
                                             "changes nothing")
        c.close(out, raw / math.sqrt(d), mistakes={
            "you forgot to scale: divide q kᵀ by √d (d = q.size(-1)), or large d saturates the softmax": raw,
            "you divided by d; divide by its square root, √d": raw / d,
            "you multiplied by √d; the scores are divided by it": raw * math.sqrt(d),
            **({"you divided by d / 2: `d ** 1/2` means (d ** 1) / 2, since ** binds tighter than /; the square "
                "root is d ** 0.5 (or math.sqrt)": raw / (d / 2), "you divided by d and then by 2: `d ** 1/2` "
                "means (d ** 1) / 2, since ** binds tighter than /; the square root is d ** 0.5 (or math.sqrt)":
                raw / d / 2} if d != 4 else {}),
            **({"you scaled by the square root of the sequence length (√S, the number of keys); scale by √d, "
                "d = q.size(-1), the width of each vector": raw / math.sqrt(S)} if S != d else {}),
            **({"you scaled by the square root of the sequence length (√T, the number of queries); scale by √d, "
                "d = q.size(-1), the width of each vector": raw / math.sqrt(T)} if T not in (d, S) else {}),
            **{message: raw / math.sqrt(n) for n, message in axis_sizes.items()},
            "k is not transposed: only k's last two axes are swapped, so that row t, column s is "
            "q_t · k_s": (q @ k) / math.sqrt(d) if T == S == d else raw.transpose(-2, -1),
            "your scores are transposed: rows must be queries (who looks) and columns keys, i.e. q @ kᵀ, "
            "not k @ qᵀ": raw.transpose(-2, -1) / math.sqrt(d),
        }, what=f"attention_scores for q {q_shape}, k {k_shape}", sizes={"d": d}, magnitude=raw.abs().max(),
            hint="every query against every key is one matrix product, with k's last two axes swapped; then "
                 "scale by the square root of d")


@exercise
def self_attention(c):
    """Checks self_attention(x (..., T, d_in), w_q, w_k (d_in, d_k), w_v (d_in, d_v)) -> (out (..., T, d_v),
    weights (..., T, T)), with q = x w_q, k = x w_k, v = x w_v, weights = softmax(q kᵀ / √d_k), out = weights v.
    Reference: course_lib.attention.scaled_dot_product_attention."""
    c.reference = lambda x, w_q, w_k, w_v: ref.scaled_dot_product_attention(x @ w_q, x @ w_k, x @ w_v)
    d_in, d_k, d_v = 6, 4, 5                         # all different, so a scale by the wrong width shows
    for seed, x_shape in enumerate(((7, d_in), (2, 4, d_in))):
        x = _rand(*x_shape, seed=seed)
        w_q, w_k = _rand(d_in, d_k, seed=seed + 10), _rand(d_in, d_k, seed=seed + 20)
        w_v = _rand(d_in, d_v, seed=seed + 30)
        scale = math.sqrt(d_k)
        q, k, v = x @ w_q, x @ w_k, x @ w_v
        out_ref, w_ref = ref.scaled_dot_product_attention(q, k, v)
        result = _call(c, x, w_q, w_k, w_v, note=(
            "check each product's shapes: x (…, T, d_in) @ w_q (d_in, d_k) needs no transpose, and the scores "
            "swap only k's last two axes, transpose(-2, -1); k.T on a batched tensor reverses every axis"))
        if isinstance(result, torch.Tensor):
            raise Fail("return two things, `return out, weights`: the outputs b and the attention weights α′")
        if not isinstance(result, (tuple, list)) or len(result) != 2:
            raise Fail(f"expected a pair (out, weights), got {type(result).__name__}")
        out, weights = result
        if (isinstance(out, torch.Tensor) and isinstance(weights, torch.Tensor)
                and out.shape == w_ref.shape and weights.shape == out_ref.shape):
            raise Fail(f"you returned (weights, out): the first has shape {tuple(out.shape)} (T, T), the second "
                       f"{tuple(weights.shape)} (T, d_v) — return them the other way round, `return out, weights`")
        weights = c.tensor(weights, shape=w_ref.shape, what="your weight matrix")
        raw = q @ k.transpose(-2, -1)
        unscaled = torch.softmax(raw, -1)
        columns = torch.softmax(raw / scale, -2)
        causal = torch.ones(raw.shape[-2:], dtype=torch.bool).triu(1)
        by_size = {n: f"you scaled by √{n}, the size of axis {i} of x; scale by √d_k, the width of the "
                      "queries and keys (k.size(-1))" for i, n in enumerate(x.shape[:-1]) if n not in (d_k, d_in, d_v)}
        if x.size(-2) not in (d_k, d_in, d_v):
            by_size[x.size(-2)] = ("you scaled by √T, the number of positions; scale by √d_k, the width of the "
                                   "queries and keys (k.size(-1))")
        c.close(weights, w_ref, mistakes={
            "you forgot to scale the scores by √d_k before the softmax": unscaled,
            "you scaled by √d_in, the width of x; scale by √d_k, the width of the queries and keys "
            "(k.size(-1))": torch.softmax(raw / math.sqrt(d_in), -1),
            "you scaled by √d_v, the width of the values; scale by √d_k, the width of the queries and keys "
            "(k.size(-1))": torch.softmax(raw / math.sqrt(d_v), -1),
            **{message: torch.softmax(raw / math.sqrt(n), -1) for n, message in by_size.items()},
            "you scaled after the softmax: the scores are scaled, then the softmax turns them into weights "
            "that sum to 1": unscaled / scale,
            "softmax over the wrong axis: each query's row (dim=-1) must sum to 1, not each key's column":
                columns,
            "your weight matrix is transposed: row t must hold what query t gives each key (q kᵀ, not k qᵀ)":
                w_ref.transpose(-2, -1),
            "your scores are transposed (k qᵀ): row t must hold query t against every key, q kᵀ":
                torch.softmax(raw.transpose(-2, -1) / scale, -1),
            "you used w_q for the keys too: the keys have their own projection, w_k":
                torch.softmax(q @ q.transpose(-2, -1) / scale, -1),
            "you returned the raw scores; the weights are softmax(scores)": raw / scale,
            "you masked the future (a causal mask): this self-attention has no mask, every query sees every "
            "key": torch.softmax((raw / scale).masked_fill(causal, float("-inf")), -1),
            **{f"your scores compare the inputs x directly (x xᵀ{by}): project them first, the queries with w_q "
               "and the keys with w_k": torch.softmax(x @ x.transpose(-2, -1) / math.sqrt(n), -1)
               for n, by in ((1, ""), (d_k, " / √d_k"), (d_in, " / √d_in"))},
        }, what="your weight matrix", axes=("batch", "query", "key")[-raw.dim():], sizes={"d_k": d_k},
            hint="the weights are the scaled scores, turned into probabilities along the keys (the last axis)")
        if isinstance(out, torch.Tensor):
            for wrong, name in ((k, "w_k"), (q, "w_q")):
                if out.shape == wrong.shape and torch.allclose(out.double(), (w_ref @ wrong).double(),
                                                               atol=1e-5, rtol=1e-4):
                    raise Fail(f"your output mixes x projected by {name}: the values have their own projection, "
                               "w_v")
        mixed_x = w_ref @ x                                # (..., T, d_in): the inputs mixed, not the values
        if isinstance(out, torch.Tensor) and out.shape == mixed_x.shape and torch.allclose(
                out.double(), mixed_x.double(), atol=1e-5, rtol=1e-4):
            raise Fail("your output mixes the inputs x instead of the values, x projected by w_v "
                       "(the value projection is what lets b differ from the a's)")
        out = c.tensor(out, shape=out_ref.shape, what="your output `out`")
        c.close(out, out_ref, mistakes={
            "you multiplied the transposed weights: row t of the weights (query t) mixes the rows of v":
                w_ref.transpose(-2, -1) @ v,
        }, what="your output `out`", axes=("batch", "query", "feature")[-out_ref.dim():], hint="each output row is a weighted sum of the value rows, with that query's weights")
