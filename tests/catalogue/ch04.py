"""Chapter 04's answers: split_heads, merge_heads, sinusoidal_positions, MultiHeadAttention, EncoderBlock."""
import math

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from course_lib import attention as attn

from . import right, wrong

# --- split_heads(x (B, T, d_model), n_heads) -> (B, h, T, d_head) ---------------------------------------------


@wrong("split_heads", "mixes tokens with features")
def split_heads(x, n_heads):  # view straight to the target shape: heads and tokens scrambled
    B, T, d_model = x.shape
    return x.view(B, n_heads, T, d_model // n_heads)


@wrong("split_heads", "head axis must come before T")
def split_heads(x, n_heads):  # noqa: F811
    B, T, d_model = x.shape
    return x.view(B, T, n_heads, d_model // n_heads)


@wrong("split_heads", "one d_head-vector per token")
def split_heads(x, n_heads):  # noqa: F811 (the "last two axes" moved too: (B, h, d_head, T))
    B, T, d_model = x.shape
    return x.view(B, T, n_heads, d_model // n_heads).permute(0, 2, 3, 1)


@wrong("split_heads", "round-robin")
def split_heads(x, n_heads):  # noqa: F811 (head i gets features i, i + h, i + 2h …)
    B, T, d_model = x.shape
    return x.view(B, T, d_model // n_heads, n_heads).permute(0, 3, 1, 2)


@wrong("split_heads", "d_model // n_heads")
def split_heads(x, n_heads):  # noqa: F811
    B, T, d_model = x.shape
    return x.reshape(B, T, n_heads, d_model / n_heads).transpose(1, 2)


@wrong("split_heads", "only one batch element")
def split_heads(x, n_heads):  # noqa: F811 (written for one sentence)
    T, d_model = x.shape[1:]
    return x[0].view(T, n_heads, d_model // n_heads).transpose(0, 1).unsqueeze(0)


@wrong("split_heads", "the wrong way round")
def split_heads(x, n_heads):  # noqa: F811 (n_heads taken for the width of a head)
    B, T, d_model = x.shape
    return x.view(B, T, -1, n_heads).transpose(1, 2)


@wrong("split_heads", "hard-coded")
def split_heads(x, n_heads):  # noqa: F811 (the notebook's 12 heads of 64, in smaller numbers)
    B, T, d_model = x.shape
    return x.view(B, T, 4, d_model // 4).transpose(1, 2)


@wrong("split_heads", "which axis is which")
def split_heads(x, n_heads):  # noqa: F811 (the heads moved in front of the batch)
    return torch.stack(x.chunk(n_heads, dim=-1), dim=0)


@wrong("split_heads", "torch.stack")
def split_heads(x, n_heads):  # noqa: F811
    return list(x.chunk(n_heads, dim=-1))


@wrong("split_heads", "which axis is which")
def split_heads(x, n_heads):  # noqa: F811 (transpose(0, 1): batch and tokens swapped instead)
    B, T, d_model = x.shape
    return x.view(B, T, n_heads, d_model // n_heads).transpose(0, 2)


@wrong("split_heads", "you cut the token axis")
def split_heads(x, n_heads):  # noqa: F811 (chunked along dim 1)
    return torch.stack(x.chunk(n_heads, dim=1), 1)


@wrong("split_heads", "batch size")
def split_heads(x, n_heads):  # noqa: F811 (written for the one sentence of the notebook's demo)
    T, d_model = x.shape[-2:]
    d_head = d_model // n_heads
    return x.reshape(1, T, n_heads, d_head).transpose(1, 2)


@right("split_heads")
def split_heads(x, n_heads):  # noqa: F811
    return torch.stack(x.chunk(n_heads, dim=-1), dim=1)


@right("split_heads")
def split_heads(x, n_heads):  # noqa: F811
    d_head = x.size(-1) // n_heads
    return torch.stack([x[..., i * d_head:(i + 1) * d_head] for i in range(n_heads)], dim=1)


@right("split_heads")
def split_heads(x, n_heads):  # noqa: F811
    return x.unflatten(-1, (n_heads, -1)).permute(0, 2, 1, 3)


@right("split_heads")
def split_heads(x, n_heads):  # noqa: F811
    B, T, d_model = x.shape
    return torch.einsum("bthd->bhtd", x.reshape(B, T, n_heads, -1)).contiguous()


# --- merge_heads(x (B, h, T, d_head)) -> (B, T, h * d_head) --------------------------------------------------


@wrong("merge_heads", "without moving the head axis")
def merge_heads(x):
    B, h, T, d_head = x.shape
    return x.reshape(B, T, h * d_head)


@wrong("merge_heads", "contiguous")
def merge_heads(x):  # noqa: F811
    B, h, T, d_head = x.shape
    return x.transpose(1, 2).view(B, T, h * d_head)


@wrong("merge_heads", "interleaved")
def merge_heads(x):  # noqa: F811
    B, h, T, d_head = x.shape
    return x.permute(0, 2, 3, 1).reshape(B, T, h * d_head)


@wrong("merge_heads", "summed or averaged")
def merge_heads(x):  # noqa: F811
    return x.sum(dim=1)


@wrong("merge_heads", "flattened into the features too")
def merge_heads(x):  # noqa: F811 (flatten(1) where flatten(2) was meant)
    return x.transpose(1, 2).flatten(1)


@wrong("merge_heads", "four axes")
def merge_heads(x):  # noqa: F811
    return x.transpose(1, 2)


@wrong("merge_heads", "joined along the token axis")
def merge_heads(x):  # noqa: F811 (the heads joined one after another along the tokens)
    return torch.cat([x[:, i] for i in range(x.size(1))], dim=1)


@wrong("merge_heads", "only one batch element")
def merge_heads(x):  # noqa: F811 (written for one sentence)
    h, T, d_head = x.shape[1:]
    return x[0].transpose(0, 1).reshape(1, T, h * d_head)


@wrong("merge_heads", "heads are all there but in another order")
def merge_heads(x):  # noqa: F811 (the last head first)
    return torch.cat([x[:, i] for i in reversed(range(x.size(1)))], dim=-1)


@wrong("merge_heads", "in other places")
def merge_heads(x):  # noqa: F811 (transpose(2, 3): tokens and features swapped)
    B, h, T, d_head = x.shape
    return x.transpose(2, 3).reshape(B, T, h * d_head)


@wrong("merge_heads", "in place")
def merge_heads(x):  # noqa: F811
    B, h, T, d_head = x.shape
    return x.transpose_(1, 2).reshape(B, T, h * d_head)


@wrong("merge_heads", "unpacked x.shape")
def merge_heads(x):  # noqa: F811 (the shape unpacked in the wrong order)
    B, T, h, d_head = x.shape
    return x.transpose(1, 2).reshape(B, T, h * d_head)


@wrong("merge_heads", "do not multiply")
def merge_heads(x):  # noqa: F811 (d_model taken from the last axis)
    B, h, T, d_head = x.shape
    return x.transpose(1, 2).reshape(B, T, d_head)


@wrong("merge_heads", "only head 0")
def merge_heads(x):  # noqa: F811 (one head repeated to the full width)
    h = x.size(1)
    return x[:, 0].repeat(1, 1, h)


@right("merge_heads")
def merge_heads(x):  # noqa: F811
    return torch.cat([x[:, i] for i in range(x.size(1))], dim=-1)


@right("merge_heads")
def merge_heads(x):  # noqa: F811
    return x.permute(0, 2, 1, 3).flatten(2)


@right("merge_heads")
def merge_heads(x):  # noqa: F811
    B, h, T, d_head = x.shape
    return x.transpose(1, 2).contiguous().view(B, T, -1)


@right("merge_heads")
def merge_heads(x):  # noqa: F811
    return torch.einsum("bhtd->bthd", x).reshape(x.size(0), x.size(2), -1)


# --- sinusoidal_positions(n_positions, d_model) -> (n_positions, d_model) float32 -----------------------------


def _angles(n_positions, d_model):
    pos = torch.arange(n_positions, dtype=torch.float32)[:, None]
    return pos / 10000 ** (torch.arange(0, d_model, 2, dtype=torch.float32) / d_model)


@wrong("sinusoidal_positions", "all the sines first")
def sinusoidal_positions(n_positions, d_model):
    angles = _angles(n_positions, d_model)
    return torch.cat([torch.sin(angles), torch.cos(angles)], dim=1)


@wrong("sinusoidal_positions", "swapped")
def sinusoidal_positions(n_positions, d_model):  # noqa: F811
    angles = _angles(n_positions, d_model)
    return torch.stack([torch.cos(angles), torch.sin(angles)], dim=-1).flatten(1)


@wrong("sinusoidal_positions", "uses i, the pair's number")
def sinusoidal_positions(n_positions, d_model):  # noqa: F811
    pos = torch.arange(n_positions, dtype=torch.float32)[:, None]
    i = torch.arange(d_model // 2, dtype=torch.float32)
    angles = pos / 10000 ** (i / d_model)
    return torch.stack([torch.sin(angles), torch.cos(angles)], dim=-1).flatten(1)


@wrong("sinusoidal_positions", "each column got its own frequency")
def sinusoidal_positions(n_positions, d_model):  # noqa: F811
    table = torch.zeros(n_positions, d_model)
    for pos in range(n_positions):
        for j in range(d_model):
            angle = pos / 10000 ** (j / d_model)
            table[pos, j] = math.sin(angle) if j % 2 == 0 else math.cos(angle)
    return table


@wrong("sinusoidal_positions", "start at 0")
def sinusoidal_positions(n_positions, d_model):  # noqa: F811
    pos = torch.arange(1, n_positions + 1, dtype=torch.float32)[:, None]
    angles = pos / 10000 ** (torch.arange(0, d_model, 2, dtype=torch.float32) / d_model)
    return torch.stack([torch.sin(angles), torch.cos(angles)], dim=-1).flatten(1)


@wrong("sinusoidal_positions", "float64")
def sinusoidal_positions(n_positions, d_model):  # noqa: F811
    pos = np.arange(n_positions)[:, None]
    angles = pos / 10000 ** (np.arange(0, d_model, 2) / d_model)
    table = np.zeros((n_positions, d_model))
    table[:, 0::2], table[:, 1::2] = np.sin(angles), np.cos(angles)
    return torch.from_numpy(table)


@wrong("sinusoidal_positions", "divide by it")
def sinusoidal_positions(n_positions, d_model):  # noqa: F811
    pos = torch.arange(n_positions, dtype=torch.float32)[:, None]
    angles = pos * 10000 ** (torch.arange(0, d_model, 2, dtype=torch.float32) / d_model)
    return torch.stack([torch.sin(angles), torch.cos(angles)], dim=-1).flatten(1)


@wrong("sinusoidal_positions", "10000")
def sinusoidal_positions(n_positions, d_model):  # noqa: F811 (one zero short)
    pos = torch.arange(n_positions, dtype=torch.float32)[:, None]
    angles = pos / 1000 ** (torch.arange(0, d_model, 2, dtype=torch.float32) / d_model)
    return torch.stack([torch.sin(angles), torch.cos(angles)], dim=-1).flatten(1)


@wrong("sinusoidal_positions", "integer division")
def sinusoidal_positions(n_positions, d_model):  # noqa: F811
    table = torch.zeros(n_positions, d_model)
    for pos in range(n_positions):
        for i in range(0, d_model, 2):
            table[pos, i] = math.sin(pos / 10000 ** (i // d_model))
            table[pos, i + 1] = math.cos(pos / 10000 ** (i // d_model))
    return table


@wrong("sinusoidal_positions", "the odd ones are not")
def sinusoidal_positions(n_positions, d_model):  # noqa: F811 (sin in every column)
    angles = _angles(n_positions, d_model)
    return torch.sin(angles).repeat_interleave(2, dim=1)


@wrong("sinusoidal_positions", "transposed")
def sinusoidal_positions(n_positions, d_model):  # noqa: F811 (one position per column)
    return attn.sinusoidal_positions(n_positions, d_model).T.contiguous()


@wrong("sinusoidal_positions", "fast on the left")
def sinusoidal_positions(n_positions, d_model):  # noqa: F811 (the frequencies in reverse order)
    pos = torch.arange(n_positions, dtype=torch.float32)[:, None]
    angles = pos / 10000 ** (torch.arange(d_model - 2, -1, -2, dtype=torch.float32) / d_model)
    return torch.stack([torch.sin(angles), torch.cos(angles)], dim=-1).flatten(1)


@wrong("sinusoidal_positions", "degrees")
def sinusoidal_positions(n_positions, d_model):  # noqa: F811 (angles taken for degrees)
    angles = torch.deg2rad(_angles(n_positions, d_model))
    return torch.stack([torch.sin(angles), torch.cos(angles)], dim=-1).flatten(1)


@wrong("sinusoidal_positions", "extra axis of size 1")
def sinusoidal_positions(n_positions, d_model):  # noqa: F811 (the tutorial's batch axis in front)
    return attn.sinusoidal_positions(n_positions, d_model).unsqueeze(0)


@wrong("sinusoidal_positions", "the wrong frequencies")
def sinusoidal_positions(n_positions, d_model):  # noqa: F811 (** binds tighter than /: the brackets left out)
    pos = torch.arange(n_positions, dtype=torch.float32)[:, None]
    angles = pos / 10000 ** torch.arange(0, d_model, 2, dtype=torch.float32) / d_model
    return torch.stack([torch.sin(angles), torch.cos(angles)], dim=-1).flatten(1)


@right("sinusoidal_positions")
def sinusoidal_positions(n_positions, d_model):  # noqa: F811
    table = torch.zeros(n_positions, d_model)
    for pos in range(n_positions):
        for i in range(0, d_model, 2):
            table[pos, i] = math.sin(pos / 10000 ** (i / d_model))
            table[pos, i + 1] = math.cos(pos / 10000 ** (i / d_model))
    return table


@right("sinusoidal_positions")
def sinusoidal_positions(n_positions, d_model):  # noqa: F811 (the PyTorch tutorial's exp-log form)
    pos = torch.arange(n_positions).unsqueeze(1)
    div = torch.exp(torch.arange(0, d_model, 2) * (-math.log(10000.0) / d_model))
    table = torch.zeros(n_positions, d_model)
    table[:, 0::2] = torch.sin(pos * div)
    table[:, 1::2] = torch.cos(pos * div)
    return table


@right("sinusoidal_positions")
def sinusoidal_positions(n_positions, d_model):  # noqa: F811 (float64 for the angles, float32 at the end)
    pos = np.arange(n_positions)[:, None]
    angles = pos / np.power(10000, np.arange(0, d_model, 2) / d_model)
    return torch.tensor(np.stack([np.sin(angles), np.cos(angles)], axis=-1).reshape(n_positions, d_model),
                        dtype=torch.float32)


@right("sinusoidal_positions")
def sinusoidal_positions(n_positions, d_model):  # noqa: F811 (cos(a) = sin(a + π/2))
    angles = _angles(n_positions, d_model).repeat_interleave(2, dim=1)
    shift = torch.tensor([0.0, math.pi / 2]).repeat(d_model // 2)
    return torch.sin(angles + shift)


# --- MultiHeadAttention(d_model, n_heads): forward(x, mask=None, need_weights=False) -> (out, weights) ---------


class MultiHeadAttention(nn.Module):
    def __init__(self, d_model, n_heads):
        super().__init__()
        self.n_heads = n_heads
        self.q = nn.Linear(d_model, d_model)
        self.k = nn.Linear(d_model, d_model)
        self.v = nn.Linear(d_model, d_model)
        self.out = nn.Linear(d_model, d_model)

    def heads(self, x):
        return [attn.split_heads(p(x), self.n_heads) for p in (self.q, self.k, self.v)]

    def forward(self, x, mask=None, need_weights=False):
        q, k, v = self.heads(x)
        o, w = attn.scaled_dot_product_attention(q, k, v, mask)
        return self.out(attn.merge_heads(o)), (w if need_weights else None)


RightMHA = MultiHeadAttention


def _attend(q, k, v, mask, scale, masked=False):
    """Attention written out, with the scale the answer uses; masked=True fills where mask is True."""
    scores = q @ k.transpose(-2, -1) / scale
    if mask is not None:
        scores = scores.masked_fill(mask if masked else ~mask, float("-inf"))
    w = torch.softmax(scores, dim=-1)
    return w @ v, w


@wrong("MultiHeadAttention", "not scaled")
class MultiHeadAttention(RightMHA):  # noqa: F811
    def forward(self, x, mask=None, need_weights=False):
        o, w = _attend(*self.heads(x), mask, 1.0)
        return self.out(attn.merge_heads(o)), (w if need_weights else None)


@wrong("MultiHeadAttention", "√d_model")
class MultiHeadAttention(RightMHA):  # noqa: F811
    def forward(self, x, mask=None, need_weights=False):
        o, w = _attend(*self.heads(x), mask, math.sqrt(x.size(-1)))
        return self.out(attn.merge_heads(o)), (w if need_weights else None)


@wrong("MultiHeadAttention", "wrong way round")
class MultiHeadAttention(RightMHA):  # noqa: F811
    def forward(self, x, mask=None, need_weights=False):
        q, k, v = self.heads(x)
        o, w = _attend(q, k, v, mask, math.sqrt(q.size(-1)), masked=True)
        return self.out(attn.merge_heads(o)), (w if need_weights else None)


@wrong("MultiHeadAttention", "output projection is missing")
class MultiHeadAttention(RightMHA):  # noqa: F811
    def forward(self, x, mask=None, need_weights=False):
        o, w = attn.scaled_dot_product_attention(*self.heads(x), mask)
        return attn.merge_heads(o), (w if need_weights else None)


@wrong("MultiHeadAttention", "not their mean or sum")
class MultiHeadAttention(RightMHA):  # noqa: F811 (the weights averaged over the heads)
    def forward(self, x, mask=None, need_weights=False):
        o, w = attn.scaled_dot_product_attention(*self.heads(x), mask)
        return self.out(attn.merge_heads(o)), (w.mean(dim=1) if need_weights else None)


@wrong("MultiHeadAttention", "None unless need_weights is true")
class MultiHeadAttention(RightMHA):  # noqa: F811
    def forward(self, x, mask=None, need_weights=False):
        o, w = attn.scaled_dot_product_attention(*self.heads(x), mask)
        return self.out(attn.merge_heads(o)), w


@wrong("MultiHeadAttention", "no weights with need_weights=True")
class MultiHeadAttention(RightMHA):  # noqa: F811
    def forward(self, x, mask=None, need_weights=False):
        o, _ = attn.scaled_dot_product_attention(*self.heads(x), mask)
        return self.out(attn.merge_heads(o)), None


@wrong("MultiHeadAttention", "wrong way round — the output")
class MultiHeadAttention(RightMHA):  # noqa: F811
    def forward(self, x, mask=None, need_weights=False):
        o, w = attn.scaled_dot_product_attention(*self.heads(x), mask)
        return (w if need_weights else None), self.out(attn.merge_heads(o))


@wrong("MultiHeadAttention", "return a pair")
class MultiHeadAttention(RightMHA):  # noqa: F811
    def forward(self, x, mask=None, need_weights=False):
        o, w = attn.scaled_dot_product_attention(*self.heads(x), mask)
        return self.out(attn.merge_heads(o))


@wrong("MultiHeadAttention", "values come from self.k")
class MultiHeadAttention(RightMHA):  # noqa: F811 (the values taken from self.k)
    def forward(self, x, mask=None, need_weights=False):
        q, k = (attn.split_heads(p(x), self.n_heads) for p in (self.q, self.k))
        o, w = attn.scaled_dot_product_attention(q, k, k, mask)
        return self.out(attn.merge_heads(o)), (w if need_weights else None)


@wrong("MultiHeadAttention", "mask is ignored")
class MultiHeadAttention(RightMHA):  # noqa: F811
    def forward(self, x, mask=None, need_weights=False):
        o, w = attn.scaled_dot_product_attention(*self.heads(x))
        return self.out(attn.merge_heads(o)), (w if need_weights else None)


@wrong("MultiHeadAttention", "split along the wrong axis")
class MultiHeadAttention(RightMHA):  # noqa: F811
    def heads(self, x):
        B, T, d = x.shape
        return [p(x).view(B, self.n_heads, T, d // self.n_heads) for p in (self.q, self.k, self.v)]


@wrong("MultiHeadAttention", "over the queries")
class MultiHeadAttention(RightMHA):  # noqa: F811
    def forward(self, x, mask=None, need_weights=False):
        q, k, v = self.heads(x)
        scores = q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))
        if mask is not None:
            scores = scores.masked_fill(~mask, float("-inf"))
        w = torch.softmax(scores, dim=2)
        return self.out(attn.merge_heads(w @ v)), (w if need_weights else None)


@wrong("MultiHeadAttention", "number of heads is fixed")
class MultiHeadAttention(RightMHA):  # noqa: F811 (the notebook's head count kept)
    def heads(self, x):
        return [attn.split_heads(p(x), 4) for p in (self.q, self.k, self.v)]


@wrong("MultiHeadAttention", "q and k are swapped")
class MultiHeadAttention(RightMHA):  # noqa: F811 (k @ qᵀ: the scores transposed)
    def forward(self, x, mask=None, need_weights=False):
        q, k, v = self.heads(x)
        o, w = attn.scaled_dot_product_attention(k, q, v, mask)
        return self.out(attn.merge_heads(o)), (w if need_weights else None)


@wrong("MultiHeadAttention", "-inf")
class MultiHeadAttention(RightMHA):  # noqa: F811 (blocked scores set to 0, which still gets weight)
    def forward(self, x, mask=None, need_weights=False):
        q, k, v = self.heads(x)
        scores = q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))
        if mask is not None:
            scores = scores.masked_fill(~mask, 0.0)
        w = torch.softmax(scores, dim=-1)
        return self.out(attn.merge_heads(w @ v)), (w if need_weights else None)


@wrong("MultiHeadAttention", "device=x.device")
class MultiHeadAttention(RightMHA):  # noqa: F811 (a default mask made on the CPU)
    def forward(self, x, mask=None, need_weights=False):
        if mask is None:
            mask = torch.ones(x.size(1), x.size(1), dtype=torch.bool)
        return super().forward(x, mask, need_weights)


@wrong("MultiHeadAttention", "wrong way round")
class MultiHeadAttention(RightMHA):  # noqa: F811 (the fused path given nn.MultiheadAttention's convention)
    def forward(self, x, mask=None, need_weights=False):
        if need_weights:
            return super().forward(x, mask, need_weights)
        q, k, v = self.heads(x)
        o = F.scaled_dot_product_attention(q, k, v, attn_mask=None if mask is None else ~mask)
        return self.out(attn.merge_heads(o)), None


@wrong("MultiHeadAttention", "head axis")
class MultiHeadAttention(RightMHA):  # noqa: F811 (split without moving the heads in front of T)
    def heads(self, x):
        B, T, d = x.shape
        return [p(x).view(B, T, self.n_heads, -1) for p in (self.q, self.k, self.v)]

    def forward(self, x, mask=None, need_weights=False):
        o, w = attn.scaled_dot_product_attention(*self.heads(x), mask)
        return self.out(o.reshape(x.shape)), (w if need_weights else None)


@wrong("MultiHeadAttention", "x ** 1/2 is (x ** 1) / 2")
class MultiHeadAttention(RightMHA):  # noqa: F811
    def forward(self, x, mask=None, need_weights=False):
        q, k, v = self.heads(x)
        o, w = _attend(q, k, v, mask, q.size(-1) ** 1 / 2)
        return self.out(attn.merge_heads(o)), (w if need_weights else None)


@wrong("MultiHeadAttention", "the residual connection belongs to the encoder block")
class MultiHeadAttention(RightMHA):  # noqa: F811
    def forward(self, x, mask=None, need_weights=False):
        out, w = super().forward(x, mask, need_weights)
        return x + out, w


@wrong("MultiHeadAttention", "in another order than the exercise")
class MultiHeadAttention(RightMHA):  # noqa: F811 (the output projection created first)
    def __init__(self, d_model, n_heads):
        nn.Module.__init__(self)
        self.n_heads = n_heads
        self.out = nn.Linear(d_model, d_model)
        self.q = nn.Linear(d_model, d_model)
        self.k = nn.Linear(d_model, d_model)
        self.v = nn.Linear(d_model, d_model)


@wrong("MultiHeadAttention", "averaged over the heads instead of")
class MultiHeadAttention(RightMHA):  # noqa: F811 (every head reads all of v; the heads' outputs averaged)
    def forward(self, x, mask=None, need_weights=False):
        h = self.n_heads
        q = attn.split_heads(self.q(x), h)
        k = attn.split_heads(self.k(x), h)
        v = self.v(x).unsqueeze(1).expand(-1, h, -1, -1)
        o, w = attn.scaled_dot_product_attention(q, k, v, mask)
        return self.out(o.mean(dim=1)), (w if need_weights else None)


@wrong("MultiHeadAttention", "never split into heads")
class MultiHeadAttention(RightMHA):  # noqa: F811 (one attention over the full width, copied to h heads)
    def forward(self, x, mask=None, need_weights=False):
        q, k, v = self.q(x), self.k(x), self.v(x)
        m = None if mask is None else mask.squeeze(1) if mask.dim() == 4 else mask
        o, w = attn.scaled_dot_product_attention(q, k, v, m)
        w = w.unsqueeze(1).expand(-1, self.n_heads, -1, -1)
        return self.out(o), (w if need_weights else None)


@wrong("MultiHeadAttention", "not one head's or their mean copied")
class MultiHeadAttention(RightMHA):  # noqa: F811 (the heads right, their mean returned for every head)
    def forward(self, x, mask=None, need_weights=False):
        o, w = attn.scaled_dot_product_attention(*self.heads(x), mask)
        w = w.mean(dim=1, keepdim=True).expand_as(w)
        return self.out(attn.merge_heads(o)), (w if need_weights else None)


@right("MultiHeadAttention")
class MultiHeadAttention(RightMHA):  # noqa: F811 (written out, with masked_fill and softmax)
    def forward(self, x, mask=None, need_weights=False):
        q, k, v = self.heads(x)
        o, w = _attend(q, k, v, mask, q.size(-1) ** 0.5)
        return self.out(attn.merge_heads(o)), (w if need_weights else None)


@right("MultiHeadAttention")
class MultiHeadAttention(RightMHA):  # noqa: F811 (einsum, heads split by hand)
    def forward(self, x, mask=None, need_weights=False):
        B, T, d = x.shape
        h = self.n_heads
        q, k, v = (p(x).reshape(B, T, h, d // h) for p in (self.q, self.k, self.v))
        scores = torch.einsum("bthd,bshd->bhts", q, k) / math.sqrt(d // h)
        if mask is not None:
            scores = scores.masked_fill(~mask, -1e9)
        w = scores.softmax(dim=-1)
        o = torch.einsum("bhts,bshd->bthd", w, v).reshape(B, T, d)
        return self.out(o), (w if need_weights else None)


@right("MultiHeadAttention")
class MultiHeadAttention(RightMHA):  # noqa: F811 (PyTorch's fused attention when no weights are wanted)
    def forward(self, x, mask=None, need_weights=False):
        q, k, v = self.heads(x)
        if need_weights:
            o, w = attn.scaled_dot_product_attention(q, k, v, mask)
        else:
            o, w = F.scaled_dot_product_attention(q, k, v, attn_mask=mask), None
        return self.out(attn.merge_heads(o)), w


@right("MultiHeadAttention")
class MultiHeadAttention(RightMHA):  # noqa: F811 (one head at a time)
    def forward(self, x, mask=None, need_weights=False):
        q, k, v = self.heads(x)
        outs, ws = [], []
        full = None if mask is None else mask.expand(*q.shape[:-1], k.size(-2))
        for i in range(self.n_heads):
            o, w = attn.scaled_dot_product_attention(q[:, i], k[:, i], v[:, i], None if full is None else full[:, i])
            outs.append(o)
            ws.append(w)
        w = torch.stack(ws, dim=1)
        return self.out(torch.cat(outs, dim=-1)), (w if need_weights else None)


# --- EncoderBlock(d_model, n_heads, d_ff=None, dropout=0.0, norm_first=False) --------------------------------


class EncoderBlock(attn.EncoderBlock):  # the library's layout; every answer below rewrites one arrangement
    def forward(self, x, mask=None, need_weights=False):
        return (self.pre if self.norm_first else self.post)(x, mask, need_weights)

    def post(self, x, mask, need_weights):
        a, w = self.attn(x, mask=mask, need_weights=need_weights)
        x = self.norm1(x + self.dropout(a))
        return self.norm2(x + self.dropout(self.ff(x))), w

    def pre(self, x, mask, need_weights):
        a, w = self.attn(self.norm1(x), mask=mask, need_weights=need_weights)
        x = x + self.dropout(a)
        return x + self.dropout(self.ff(self.norm2(x))), w


RightBlock = EncoderBlock


@wrong("EncoderBlock", "wrong place")
class EncoderBlock(RightBlock):  # noqa: F811 (norm_first ignored: always post-LN)
    def forward(self, x, mask=None, need_weights=False):
        return self.post(x, mask, need_weights)


@wrong("EncoderBlock", "wrong place")
class EncoderBlock(RightBlock):  # noqa: F811 (post-LN with the norm on the sub-layer's output only)
    def post(self, x, mask, need_weights):
        a, w = self.attn(x, mask=mask, need_weights=need_weights)
        x = x + self.norm1(self.dropout(a))
        return x + self.norm2(self.dropout(self.ff(x))), w


@wrong("EncoderBlock", "around the attention is missing")
class EncoderBlock(RightBlock):  # noqa: F811
    def post(self, x, mask, need_weights):
        a, w = self.attn(x, mask=mask, need_weights=need_weights)
        x = self.norm1(self.dropout(a))
        return self.norm2(x + self.dropout(self.ff(x))), w


@wrong("EncoderBlock", "around the feed-forward network is missing")
class EncoderBlock(RightBlock):  # noqa: F811
    def pre(self, x, mask, need_weights):
        a, w = self.attn(self.norm1(x), mask=mask, need_weights=need_weights)
        x = x + self.dropout(a)
        return self.dropout(self.ff(self.norm2(x))), w


@wrong("EncoderBlock", "carries the normalised x")
class EncoderBlock(RightBlock):  # noqa: F811 (pre-LN adds the normalised x, not x itself)
    def pre(self, x, mask, need_weights):
        h = self.norm1(x)
        a, w = self.attn(h, mask=mask, need_weights=need_weights)
        h = self.norm2(h + self.dropout(a))
        return h + self.dropout(self.ff(h)), w


@wrong("EncoderBlock", "before it is added")
class EncoderBlock(RightBlock):  # noqa: F811 (dropout after the add and the norm)
    def post(self, x, mask, need_weights):
        a, w = self.attn(x, mask=mask, need_weights=need_weights)
        x = self.dropout(self.norm1(x + a))
        return self.dropout(self.norm2(x + self.ff(x))), w


@wrong("EncoderBlock", "applies self.dropout 1 time")
class EncoderBlock(RightBlock):  # noqa: F811 (no dropout on the feed-forward output)
    def post(self, x, mask, need_weights):
        a, w = self.attn(x, mask=mask, need_weights=need_weights)
        x = self.norm1(x + self.dropout(a))
        return self.norm2(x + self.ff(x)), w


@wrong("EncoderBlock", "does not reach the attention")
class EncoderBlock(RightBlock):  # noqa: F811
    def forward(self, x, mask=None, need_weights=False):
        return super().forward(x, None, need_weights)


@wrong("EncoderBlock", "no weights with need_weights=True")
class EncoderBlock(RightBlock):  # noqa: F811 (need_weights not passed on)
    def forward(self, x, mask=None, need_weights=False):
        return super().forward(x, mask)


@wrong("EncoderBlock", "d_ff given was ignored")
class EncoderBlock(RightBlock):  # noqa: F811
    def __init__(self, d_model, n_heads, d_ff=None, dropout=0.0, norm_first=False):
        super().__init__(d_model, n_heads, None, dropout, norm_first)


@wrong("EncoderBlock", "uses ReLU")
class EncoderBlock(RightBlock):  # noqa: F811
    def __init__(self, d_model, n_heads, d_ff=None, dropout=0.0, norm_first=False):
        super().__init__(d_model, n_heads, d_ff, dropout, norm_first)
        self.ff[1] = nn.ReLU()


@wrong("EncoderBlock", "norm2 twice")
class EncoderBlock(RightBlock):  # noqa: F811
    def post(self, x, mask, need_weights):
        a, w = self.attn(x, mask=mask, need_weights=need_weights)
        x = self.norm2(x + self.dropout(a))
        return self.norm2(x + self.dropout(self.ff(x))), w


@wrong("EncoderBlock", "reads the block's input")
class EncoderBlock(RightBlock):  # noqa: F811 (the feed-forward network reads x from before the attention)
    def post(self, x, mask, need_weights):
        a, w = self.attn(x, mask=mask, need_weights=need_weights)
        return self.norm2(self.norm1(x + self.dropout(a)) + self.dropout(self.ff(x))), w


@wrong("EncoderBlock", "return a pair")
class EncoderBlock(RightBlock):  # noqa: F811
    def forward(self, x, mask=None, need_weights=False):
        return super().forward(x, mask, need_weights)[0]


@wrong("EncoderBlock", "no head axis")
class EncoderBlock(RightBlock):  # noqa: F811 (the weights averaged over the heads on the way out)
    def forward(self, x, mask=None, need_weights=False):
        x, w = super().forward(x, mask, need_weights)
        return x, None if w is None else w.mean(dim=1)


@wrong("EncoderBlock", "in eval mode")
class EncoderBlock(RightBlock):  # noqa: F811 (F.dropout is on whatever the mode)
    def post(self, x, mask, need_weights):
        a, w = self.attn(x, mask=mask, need_weights=need_weights)
        x = self.norm1(x + F.dropout(a, self.dropout.p))
        return self.norm2(x + F.dropout(self.ff(x), self.dropout.p)), w


@right("EncoderBlock")
class EncoderBlock(RightBlock):  # noqa: F811 (one helper for both residual sub-layers)
    def sublayer(self, x, norm, fn):
        if self.norm_first:
            y, extra = fn(norm(x))
            return x + self.dropout(y), extra
        y, extra = fn(x)
        return norm(x + self.dropout(y)), extra

    def forward(self, x, mask=None, need_weights=False):
        x, w = self.sublayer(x, self.norm1, lambda h: self.attn(h, mask=mask, need_weights=need_weights))
        x, _ = self.sublayer(x, self.norm2, lambda h: (self.ff(h), None))
        return x, w


@right("EncoderBlock")
class EncoderBlock(RightBlock):  # noqa: F811 (the feed-forward layers called one by one, F.gelu)
    def post(self, x, mask, need_weights):
        a, w = self.attn(x, mask=mask, need_weights=need_weights)
        x = self.norm1(self.dropout(a) + x)
        return self.norm2(self.dropout(self.ff[2](F.gelu(self.ff[0](x)))) + x), w


@right("EncoderBlock")
class EncoderBlock(RightBlock):  # noqa: F811 (one forward, the norms chosen by norm_first; functional dropout)
    def forward(self, x, mask=None, need_weights=False):
        drop = lambda t: F.dropout(t, self.dropout.p, self.training)  # noqa: E731
        a, w = self.attn(self.norm1(x) if self.norm_first else x, mask=mask, need_weights=need_weights)
        x = x + drop(a) if self.norm_first else self.norm1(x + drop(a))
        f = drop(self.ff(self.norm2(x) if self.norm_first else x))
        return (x + f if self.norm_first else self.norm2(x + f)), w


@wrong("EncoderBlock", "not the exercise's norm_first=False")
class EncoderBlock(RightBlock):  # noqa: F811
    def __init__(self, d_model, n_heads, d_ff=None, dropout=0.0, norm_first=True):
        super().__init__(d_model, n_heads, d_ff, dropout, norm_first)


@wrong("EncoderBlock", "pass mask=… and need_weights=… by keyword")
class EncoderBlock(RightBlock):  # noqa: F811 (the library's attention called positionally)
    def post(self, x, mask, need_weights):
        a, w = self.attn(x, mask, need_weights)
        x = self.norm1(x + self.dropout(a))
        return self.norm2(x + self.dropout(self.ff(x))), w
