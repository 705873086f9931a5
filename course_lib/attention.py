"""Attention, from one query to many heads.

Shapes use the course's names: batch B, query length T (or Tq), key length S (or Tk),
model width d_model, heads h, per-head width d_head = d_model // h.
Masks are boolean and mean "may attend": True keeps a score, False removes it.
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F


def softmax(scores, dim=-1):
    """Numerically stable softmax. scores: (..., n) -> weights: (..., n), summing to 1 along `dim`.

    Subtracting the row maximum changes nothing mathematically (it cancels) but keeps exp() finite.
    A row where every score is -inf (fully masked) gives zeros, never NaN.
    """
    top = scores.amax(dim=dim, keepdim=True)
    top = torch.where(torch.isfinite(top), top, torch.zeros_like(top))
    e = torch.exp(scores - top)
    total = e.sum(dim=dim, keepdim=True)
    return e / torch.where(total > 0, total, torch.ones_like(total))


def scaled_dot_product_attention(q, k, v, mask=None):
    """q: (..., T, d), k: (..., S, d), v: (..., S, d_v), mask: bool broadcastable to (..., T, S).

    Returns (out, weights): out (..., T, d_v), weights (..., T, S).
    scores = q k^T / sqrt(d); weights = softmax(scores) over keys; out = weights v.
    """
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    weights = softmax(scores, dim=-1)
    return weights @ v, weights


def split_heads(x, n_heads):
    """(B, T, d_model) -> (B, h, T, d_head): each head gets its own slice of the features."""
    B, T, d_model = x.shape
    return x.view(B, T, n_heads, d_model // n_heads).transpose(1, 2)


def merge_heads(x):
    """(B, h, T, d_head) -> (B, T, h * d_head): the inverse of split_heads."""
    B, h, T, d_head = x.shape
    return x.transpose(1, 2).reshape(B, T, h * d_head)


class MultiHeadAttention(nn.Module):
    """Multi-head attention with separate q, k, v and output projections.

    forward(x, context=None, mask=None, need_weights=False)
      x: (B, T, d_model) queries; context: (B, S, d_model) keys/values (default x: self-attention)
      mask: bool, broadcastable to (B, h, T, S), True = may attend
      -> (out (B, T, d_model), weights (B, h, T, S) or None)
    """

    def __init__(self, d_model, n_heads, dropout=0.0, bias=True):
        super().__init__()
        if d_model % n_heads:
            raise ValueError(f"d_model={d_model} must be divisible by n_heads={n_heads}")
        self.n_heads = n_heads
        self.q = nn.Linear(d_model, d_model, bias=bias)
        self.k = nn.Linear(d_model, d_model, bias=bias)
        self.v = nn.Linear(d_model, d_model, bias=bias)
        self.out = nn.Linear(d_model, d_model, bias=bias)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x, context=None, mask=None, need_weights=False):
        context = x if context is None else context
        q = split_heads(self.q(x), self.n_heads)
        k = split_heads(self.k(context), self.n_heads)
        v = split_heads(self.v(context), self.n_heads)
        scores = q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))
        if mask is not None:
            scores = scores.masked_fill(~mask, float("-inf"))
        weights = softmax(scores, dim=-1)
        out = self.out(merge_heads(self.dropout(weights) @ v))
        return out, (weights if need_weights else None)
