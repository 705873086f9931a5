"""Chapter 03's answers: softmax, attention_scores, self_attention."""
import math

import numpy as np
import torch

from . import right, wrong

# --- softmax(scores (..., n)) -> weights (..., n) -----------------------------------------------------------


@wrong("softmax", "wrong axis")
def softmax(x):
    return torch.exp(x) / torch.exp(x).sum(0, keepdim=True)


@wrong("softmax", "divided by the maximum")
def softmax(scores):  # noqa: F811 (the stabilising maximum divided out instead of subtracted)
    e = torch.exp(scores / scores.max(-1, keepdim=True).values)
    return e / e.sum(-1, keepdim=True)


@right("softmax")
def softmax(x):  # noqa: F811 (every answer is named as the student's cell names it)
    return torch.exp(x - torch.logsumexp(x, -1, keepdim=True))


@wrong("softmax", "subtract each row's maximum")
def softmax(scores):  # noqa: F811
    e = torch.exp(scores)
    return e / e.sum(dim=-1, keepdim=True)


@wrong("softmax", "keepdim=True")
def softmax(scores):  # noqa: F811
    e = torch.exp(scores - scores.amax(dim=-1, keepdim=True))
    return e / e.sum(dim=-1)


@wrong("softmax", ".values")
def softmax(scores):  # noqa: F811
    e = torch.exp(scores - scores.max(dim=-1, keepdim=True))
    return e / e.sum(dim=-1, keepdim=True)


@wrong("softmax", "maximum of the whole tensor")
def softmax(scores):  # noqa: F811
    e = torch.exp(scores - scores.max())
    return e / e.sum(dim=-1, keepdim=True)


@wrong("softmax", "log")
def softmax(scores):  # noqa: F811
    return torch.log_softmax(scores, dim=-1)


@wrong("softmax", "in place")
def softmax(scores):  # noqa: F811
    scores -= scores.amax(dim=-1, keepdim=True)
    e = scores.exp()
    return e / e.sum(dim=-1, keepdim=True)


@wrong("softmax", "float64")
def softmax(scores):  # noqa: F811
    e = np.exp(scores.numpy() - scores.numpy().max(axis=-1, keepdims=True))
    return torch.from_numpy(e / e.sum(axis=-1, keepdims=True)).double()


@wrong("softmax", "wrong axis")
def softmax(scores):  # noqa: F811 (dim=1 is the last axis of a matrix, not of a batch of them)
    e = torch.exp(scores - scores.amax(dim=1, keepdim=True))
    return e / e.sum(dim=1, keepdim=True)


@wrong("softmax", "2-D")
def softmax(scores):  # noqa: F811 (a loop over the rows that only works for a matrix)
    rows = []
    for row in scores:
        e = torch.exp(row - row.max())
        rows.append(e / e.sum())
    return torch.stack(rows)


@wrong("softmax", "sigmoid")
def softmax(scores):  # noqa: F811
    return torch.sigmoid(scores)


@wrong("softmax", "clamping")
def softmax(scores):  # noqa: F811
    e = torch.exp(scores.clamp(-30, 30))
    return e / e.sum(dim=-1, keepdim=True)


@right("softmax")
def softmax(scores):  # noqa: F811
    return torch.nn.functional.softmax(scores, dim=-1)


@right("softmax")
def softmax(scores):  # noqa: F811 (one row at a time, any number of leading axes)
    flat = scores.reshape(-1, scores.size(-1))
    rows = []
    for row in flat:
        e = (row - row.max()).exp()
        rows.append(e / e.sum())
    return torch.stack(rows).reshape(scores.shape)


@right("softmax")
def softmax(scores):  # noqa: F811 (w_i = 1 / sum_j exp(s_j - s_i): no exp above 1 that matters)
    return 1 / torch.exp(scores.unsqueeze(-2) - scores.unsqueeze(-1)).sum(dim=-1)


@right("softmax")
def softmax(scores):  # noqa: F811
    top = scores.max(dim=-1, keepdim=True).values
    e = torch.exp(scores - top)
    return e / torch.einsum("...n->...", e).unsqueeze(-1)


# --- attention_scores(q (..., T, d), k (..., S, d)) -> (..., T, S) -------------------------------------------


@wrong("attention_scores", "forgot to scale")
def attention_scores(q, k):
    return q @ k.transpose(-2, -1)


@wrong("attention_scores", "divided by d")
def attention_scores(q, k):  # noqa: F811
    return q @ k.transpose(-2, -1) / q.size(-1)


@wrong("attention_scores", "** 1/2")
def attention_scores(q, k):  # noqa: F811
    return q @ k.transpose(-2, -1) / q.size(-1) ** 1 / 2


@wrong("attention_scores", "number of queries")
def attention_scores(q, k):  # noqa: F811
    return q @ k.transpose(-2, -1) / math.sqrt(len(q))


@wrong("attention_scores", "axis 1")
def attention_scores(q, k):  # noqa: F811 (q.shape[1] is d only for a matrix)
    return q @ k.transpose(-2, -1) / math.sqrt(q.shape[1])


@wrong("attention_scores", "multiplied")
def attention_scores(q, k):  # noqa: F811
    return q @ k.transpose(-2, -1) * math.sqrt(q.size(-1))


@wrong("attention_scores", "not k @ qᵀ")
def attention_scores(q, k):  # noqa: F811
    return k @ q.transpose(-2, -1) / math.sqrt(q.size(-1))


@wrong("attention_scores", "k.T on a batched")
def attention_scores(q, k):  # noqa: F811
    return q @ k.T / math.sqrt(q.size(-1))


@wrong("attention_scores", "transpose(-2, -1)")
def attention_scores(q, k):  # noqa: F811 (transpose(0, 1) swaps the last two axes of a matrix only)
    return q @ k.transpose(0, 1) / math.sqrt(q.size(-1))


@wrong("attention_scores", "math.sqrt")
def attention_scores(q, k):  # noqa: F811
    return q @ k.transpose(-2, -1) / torch.sqrt(q.size(-1))


@wrong("attention_scores", "in place")
def attention_scores(q, k):  # noqa: F811
    q /= math.sqrt(q.size(-1))
    return q @ k.transpose(-2, -1)


@wrong("attention_scores", "element by element")
def attention_scores(q, k):  # noqa: F811
    return (q * k) / math.sqrt(q.size(-1))


@wrong("attention_scores", "3-D")
def attention_scores(q, k):  # noqa: F811
    return torch.bmm(q, k.transpose(-2, -1)) / math.sqrt(q.size(-1))


@right("attention_scores")
def attention_scores(q, k):  # noqa: F811
    return torch.einsum("...td,...sd->...ts", q, k) / q.shape[-1] ** 0.5


@right("attention_scores")
def attention_scores(q, k):  # noqa: F811
    return (q / math.sqrt(k.size(-1))) @ k.mT


@right("attention_scores")
def attention_scores(q, k):  # noqa: F811
    d = torch.tensor(q.size(-1), dtype=q.dtype)
    return torch.matmul(q, k.transpose(-1, -2)) / torch.sqrt(d)


@right("attention_scores")
def attention_scores(q, k):  # noqa: F811 (one query at a time, dot products by hand)
    rows = [(q[..., t:t + 1, :] * k).sum(-1) for t in range(q.size(-2))]
    return torch.stack(rows, dim=-2) / np.sqrt(q.size(-1))


# --- self_attention(x (..., T, d_in), w_q, w_k (d_in, d_k), w_v (d_in, d_v)) -> (out, weights) --------------


@right("self_attention")
def self_attention(x, w_q, w_k, w_v):  # noqa: F811
    q, k, v = x @ w_q, x @ w_k, x @ w_v
    weights = torch.softmax(torch.einsum("...td,...sd->...ts", q, k) / k.shape[-1] ** 0.5, dim=-1)
    return torch.einsum("...ts,...sv->...tv", weights, v), weights


@right("self_attention")
def self_attention(x, w_q, w_k, w_v):  # noqa: F811
    q = x @ w_q / math.sqrt(w_q.shape[1])
    scores = q @ (x @ w_k).mT
    weights = (scores - scores.amax(-1, keepdim=True)).exp()
    weights = weights / weights.sum(-1, keepdim=True)
    return weights @ (x @ w_v), weights


@right("self_attention")
def self_attention(x, w_q, w_k, w_v):  # noqa: F811 (PyTorch's fused attention for the output)
    q, k, v = x @ w_q, x @ w_k, x @ w_v
    weights = torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(k.size(-1)), dim=-1)
    return torch.nn.functional.scaled_dot_product_attention(q, k, v), weights


@wrong("self_attention", "forgot to scale")
def self_attention(x, w_q, w_k, w_v):  # noqa: F811
    weights = torch.softmax((x @ w_q) @ (x @ w_k).transpose(-2, -1), dim=-1)
    return weights @ (x @ w_v), weights


@wrong("self_attention", "√d_in")
def self_attention(x, w_q, w_k, w_v):  # noqa: F811
    d = x.size(-1)
    q, k, v = x @ w_q, x @ w_k, x @ w_v
    weights = torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(d), dim=-1)
    return weights @ v, weights


@wrong("self_attention", "√T")
def self_attention(x, w_q, w_k, w_v):  # noqa: F811
    T, d = x.shape[-2:]
    weights = torch.softmax(x @ w_q @ (x @ w_k).mT / T ** 0.5, dim=-1)
    return weights @ x @ w_v, weights


@wrong("self_attention", "after the softmax")
def self_attention(x, w_q, w_k, w_v):  # noqa: F811
    weights = torch.softmax(x @ w_q @ (x @ w_k).mT, -1) / math.sqrt(w_k.size(1))
    return weights @ x @ w_v, weights


@wrong("self_attention", "wrong axis")
def self_attention(x, w_q, w_k, w_v):  # noqa: F811 (dim=1 is the last axis only without a batch)
    scores = (x @ w_q) @ (x @ w_k).transpose(-2, -1) / math.sqrt(w_k.shape[-1])
    return torch.softmax(scores, dim=1) @ (x @ w_v), torch.softmax(scores, dim=1)


@wrong("self_attention", "used w_q for the keys")
def self_attention(x, w_q, w_k, w_v):  # noqa: F811
    q = k = x @ w_q
    weights = (q @ k.mT / math.sqrt(k.size(-1))).softmax(-1)
    return weights @ (x @ w_v), weights


@wrong("self_attention", "transposed")
def self_attention(x, w_q, w_k, w_v):  # noqa: F811
    scores = torch.matmul(x @ w_k, (x @ w_q).mT) / math.sqrt(w_k.size(-1))
    return scores.softmax(-1) @ (x @ w_v), scores.softmax(-1)


@wrong("self_attention", "instead of the values")
def self_attention(x, w_q, w_k, w_v):  # noqa: F811
    weights = torch.softmax(x @ w_q @ (x @ w_k).mT / math.sqrt(w_q.size(-1)), dim=-1)
    return weights @ x, weights


@wrong("self_attention", "return out, weights")
def self_attention(x, w_q, w_k, w_v):  # noqa: F811
    weights = torch.softmax(x @ w_q @ (x @ w_k).mT / math.sqrt(w_q.size(-1)), dim=-1)
    return weights, weights @ (x @ w_v)


@wrong("self_attention", "raw scores")
def self_attention(x, w_q, w_k, w_v):  # noqa: F811
    scores = (x @ w_q) @ (x @ w_k).mT / math.sqrt(w_q.size(-1))
    return torch.softmax(scores, -1) @ (x @ w_v), scores


@wrong("self_attention", "causal")
def self_attention(x, w_q, w_k, w_v):  # noqa: F811
    scores = (x @ w_q) @ (x @ w_k).mT / math.sqrt(w_q.size(-1))
    future = torch.ones(x.size(-2), x.size(-2), dtype=torch.bool).triu(1)
    weights = torch.softmax(scores.masked_fill(future, float("-inf")), dim=-1)
    return weights @ (x @ w_v), weights


@wrong("self_attention", "k.T on a batched")
def self_attention(x, w_q, w_k, w_v):  # noqa: F811
    k = x @ w_k
    weights = torch.softmax(x @ w_q @ k.T / math.sqrt(k.size(-1)), dim=-1)
    return weights @ x @ w_v, weights


@wrong("self_attention", "float64")
def self_attention(x, w_q, w_k, w_v):  # noqa: F811
    x, w_q, w_k, w_v = (t.double() for t in (x, w_q, w_k, w_v))
    weights = torch.softmax(x @ w_q @ (x @ w_k).mT / math.sqrt(w_q.size(-1)), dim=-1)
    return weights @ x @ w_v, weights


@wrong("self_attention", "transposed weights")
def self_attention(x, w_q, w_k, w_v):  # noqa: F811
    weights = torch.softmax(x @ w_q @ (x @ w_k).mT / math.sqrt(w_q.size(-1)), dim=-1)
    return weights.mT @ (x @ w_v), weights


@wrong("self_attention", "projected by w_k")
def self_attention(x, w_q, w_k, w_v):  # noqa: F811
    q, k, v = x @ w_q, x @ w_k, x @ w_k
    weights = torch.softmax(q @ k.mT / math.sqrt(k.size(-1)), dim=-1)
    return weights @ v, weights


@wrong("attention_scores", "floor division")
def attention_scores(q, k):  # noqa: F811
    return q @ k.transpose(-2, -1) // math.sqrt(q.size(-1))


@wrong("self_attention", "gradient with respect to `x` is not")
def self_attention(x, w_q, w_k, w_v):  # noqa: F811 (the weights detached)
    q, k, v = x @ w_q, x @ w_k, x @ w_v
    weights = torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(k.size(-1)), dim=-1).detach()
    return weights @ v, weights
