"""Attention, from one query to a stack of encoder blocks.

Shapes use the course's names: batch B, query length T, key length S, model width d_model,
heads h, per-head width d_head = d_model // h.
Masks are boolean and mean "may attend": True keeps a score, False removes it. A query whose keys
are all masked gets all-zero weights (and a zero output), never NaN.
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


def scaled_dot_product_attention(q, k, v, mask=None, dropout=0.0):
    """q: (..., T, d), k: (..., S, d), v: (..., S, d_v), mask: bool broadcastable to (..., T, S).

    Returns (out, weights): out (..., T, d_v), weights (..., T, S) (before dropout).
    scores = q k^T / sqrt(d); weights = softmax(scores) over the keys; out = weights v.
    torch.softmax computes the same formula as `softmax` above (max subtracted, then exp / sum) in one
    fused pass, which keeps this function as fast as PyTorch's own attention.
    """
    _check_mask(mask)
    scores = (q / math.sqrt(q.size(-1))) @ k.transpose(-2, -1)
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    weights = torch.softmax(scores, dim=-1)
    if mask is not None:  # fully masked rows: softmax of all -inf is NaN; they attend to nothing
        weights = weights.masked_fill(~mask.any(dim=-1, keepdim=True), 0.0)
    dropped = F.dropout(weights, dropout) if dropout > 0 else weights
    return dropped @ v, weights


def _fused_attention(q, k, v, mask=None, dropout=0.0):
    """scaled_dot_product_attention(q, k, v, mask, dropout)[0] in PyTorch's fused kernel (no weights kept)."""
    _check_mask(mask)
    if mask is None:
        return F.scaled_dot_product_attention(q, k, v, dropout_p=dropout)
    empty = ~mask.any(dim=-1, keepdim=True)  # queries that may attend to no key at all
    # some fused kernels turn such a row into 0/0: let it see every key, then zero its output
    out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask | empty, dropout_p=dropout)
    return out.masked_fill(empty, 0.0)


def _check_mask(mask):
    if mask is not None and not isinstance(mask, torch.Tensor):
        raise TypeError(f"mask must be a bool tensor (True = may attend), got a {type(mask).__name__}")
    if mask is not None and mask.dtype != torch.bool:
        raise TypeError(f"mask must be a bool tensor (True = may attend), got {mask.dtype}")


def causal_mask(T, device=None):
    """(T, T) bool, True on and below the diagonal: query t may attend to keys 0..t."""
    return torch.ones(T, T, dtype=torch.bool, device=device).tril()


def padding_mask(real):
    """real: (B, S) bool, True = a real token (not [PAD]) -> (B, 1, 1, S), broadcastable to (B, h, T, S)."""
    return real[:, None, None, :]


def split_heads(x, n_heads):
    """(B, T, d_model) -> (B, h, T, d_head): head i gets features i*d_head .. (i+1)*d_head - 1."""
    B, T, d_model = x.shape
    if d_model % n_heads:
        raise ValueError(f"d_model={d_model} is not divisible by n_heads={n_heads}")
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

    With need_weights=True the heads are computed by `scaled_dot_product_attention` above, step by step,
    and the weights come back for drawing. Without, nothing needs to be kept, so the same formula runs in
    PyTorch's fused F.scaled_dot_product_attention, which never stores the (T, S) weight matrix and is
    faster on every device (tests check that both paths agree).
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
        q = split_heads(self.q(x), self.n_heads)        # (B, h, T, d_head)
        k = split_heads(self.k(context), self.n_heads)  # (B, h, S, d_head)
        v = split_heads(self.v(context), self.n_heads)  # (B, h, S, d_head)
        p = self.dropout.p if self.training else 0.0
        if need_weights:
            heads, weights = scaled_dot_product_attention(q, k, v, mask, dropout=p)
        else:
            heads, weights = _fused_attention(q, k, v, mask, dropout=p), None
        return self.out(merge_heads(heads)), weights    # (B, T, d_model), (B, h, T, S) or None


def sinusoidal_positions(n_positions, d_model, base=10000.0):
    """(n_positions, d_model) fixed position codes from "Attention Is All You Need".

    P[pos, 2i] = sin(pos / base^(2i / d_model)),  P[pos, 2i + 1] = cos(pos / base^(2i / d_model)):
    each pair of columns is a clock hand turning at its own speed, fast on the left, slow on the right.
    """
    pos = torch.arange(n_positions, dtype=torch.float32)[:, None]                  # (n, 1)
    freq = base ** (-torch.arange(0, d_model, 2, dtype=torch.float32) / d_model)  # (ceil(d/2),)
    angles = pos * freq                                                            # (n, ceil(d/2))
    table = torch.zeros(n_positions, d_model)
    table[:, 0::2] = torch.sin(angles)
    table[:, 1::2] = torch.cos(angles[:, : d_model // 2])
    return table


class SinusoidalPositions(nn.Module):
    """Adds fixed sinusoidal position codes: (B, T, d_model) -> (B, T, d_model). `.table`: (max_len, d_model)."""

    def __init__(self, d_model, max_len=512):
        super().__init__()
        self.register_buffer("table", sinusoidal_positions(max_len, d_model), persistent=False)

    def forward(self, x):
        return x + _positions(self.table, x)


class LearnedPositions(nn.Module):
    """Adds a learned vector per position (BERT, GPT): (B, T, d_model) -> (B, T, d_model). `.table`: (max_len, d_model)."""

    def __init__(self, d_model, max_len=512):
        super().__init__()
        self.table = nn.Parameter(torch.randn(max_len, d_model) * 0.02)

    def forward(self, x):
        return x + _positions(self.table, x)


def _positions(table, x):
    T = x.size(-2)
    if T > table.size(0):
        raise ValueError(f"sequence length {T} exceeds max_len={table.size(0)} of the position table")
    return table[:T]


class EncoderBlock(nn.Module):
    """Self-attention then a feed-forward network, each wrapped in a residual connection and layer norm.

    norm_first=False is the original Transformer and BERT: x = norm(x + sublayer(x)).
    norm_first=True (GPT-2 style) normalises the sublayer's input instead: x = x + sublayer(norm(x)).
    forward(x (B, T, d_model), mask=None, need_weights=False) -> (x (B, T, d_model), weights (B, h, T, T) or None)
    """

    def __init__(self, d_model, n_heads, d_ff=None, dropout=0.0, norm_first=False):
        super().__init__()
        d_ff = 4 * d_model if d_ff is None else d_ff
        self.norm_first = norm_first
        self.attn = MultiHeadAttention(d_model, n_heads, dropout)
        self.norm1 = nn.LayerNorm(d_model)
        self.ff = nn.Sequential(nn.Linear(d_model, d_ff), nn.GELU(), nn.Linear(d_ff, d_model))
        self.norm2 = nn.LayerNorm(d_model)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x, mask=None, need_weights=False):
        if self.norm_first:
            a, weights = self.attn(self.norm1(x), mask=mask, need_weights=need_weights)
            x = x + self.dropout(a)
            x = x + self.dropout(self.ff(self.norm2(x)))
        else:
            a, weights = self.attn(x, mask=mask, need_weights=need_weights)
            x = self.norm1(x + self.dropout(a))
            x = self.norm2(x + self.dropout(self.ff(x)))
        return x, weights


class Encoder(nn.Module):
    """A stack of n_layers EncoderBlocks (plus a final layer norm when norm_first).

    block: the class of one layer, called as block(d_model, n_heads, d_ff, dropout, norm_first) (default
    EncoderBlock; chapter 04 passes the student's own).
    forward(x (B, T, d_model), mask=None, need_weights=False)
      -> (x (B, T, d_model), list of n_layers weights (B, h, T, T), or None)
    """

    def __init__(self, n_layers, d_model, n_heads, d_ff=None, dropout=0.0, norm_first=False, block=None):
        super().__init__()
        block = block or EncoderBlock
        self.layers = nn.ModuleList(block(d_model, n_heads, d_ff, dropout, norm_first) for _ in range(n_layers))
        self.norm = nn.LayerNorm(d_model) if norm_first else nn.Identity()

    def forward(self, x, mask=None, need_weights=False):
        all_weights = []
        for layer in self.layers:
            x, weights = layer(x, mask=mask, need_weights=need_weights)
            all_weights.append(weights)
        return self.norm(x), (all_weights if need_weights else None)
