"""Exercise checks for chapter 04 (multi-head attention and positions): split_heads, merge_heads,
sinusoidal_positions, and the modules MultiHeadAttention and EncoderBlock."""
import math

import torch
import torch.nn.functional as F

from .. import attention as ref
from . import _modules as m
from ._core import Fail, exercise

__all__ = ["split_heads", "merge_heads", "sinusoidal_positions", "MultiHeadAttention", "EncoderBlock"]


def _rand(*shape, seed=0):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


def _call(c, *args):
    try:
        return c.call(*args)
    except Fail as e:
        if "view size is not compatible" in str(e):
            raise Fail(f"{e} — after transpose() the tensor is no longer contiguous in memory: use .reshape(...) "
                       "(or .contiguous().view(...))") from None
        if "ints" in str(e) and "float" in str(e):
            raise Fail(f"{e} — a size must be an int: use d_model // n_heads (integer division); "
                       "d_model / n_heads is a float, even when it divides exactly") from None
        raise


@exercise
def split_heads(c):
    """Checks split_heads(x (B, T, d_model), n_heads) -> (B, h, T, d_head): head i gets features
    i*d_head .. (i+1)*d_head - 1 of every token. Reference: course_lib.attention.split_heads."""
    for seed, (B, T, d, h) in enumerate(((2, 5, 12, 3), (1, 7, 8, 2), (3, 4, 6, 6))):
        x = _rand(B, T, d, seed=seed)
        dh = d // h
        out = _call(c, x, h)
        if isinstance(out, torch.Tensor) and tuple(out.shape) != (B, h, T, dh):
            got = tuple(out.shape)
            if got == (B, T, h, dh) and h != T:
                raise Fail(f"your result has shape {got} = (B, T, h, d_head): the head axis must come before T "
                           "— hint: .transpose(1, 2) after the view")
            if got == (B, h, dh, T) and dh != T:
                raise Fail(f"your result has shape {got} = (B, h, d_head, T): each head must hold one d_head-vector "
                           "per token, (B, h, T, d_head) — view x as (B, T, h, d_head) first, then move the head axis "
                           "in front of T (a view straight to (B, h, d_head, T) has mixed the features already, and "
                           "no transpose afterwards undoes that)")
            if got == (B, dh, T, h) and dh != h:
                raise Fail(f"your result has shape {got}: you split d_model into (n_heads, d_head) the wrong way "
                           "round — view(B, T, n_heads, d_model // n_heads), then transpose(1, 2)")
        out = c.tensor(out, shape=(B, h, T, dh), what=f"split_heads(x {(B, T, d)}, n_heads={h})")
        c.close(out, ref.split_heads(x, h), mistakes={
            "heads split along the wrong axis: viewing (B, T, d_model) straight as (B, h, T, d_head) mixes "
            "tokens with features — view as (B, T, h, d_head) first, then transpose(1, 2)": x.reshape(B, h, T, dh),
            "each head must get a contiguous block of d_head features; yours dealt the features out "
            "round-robin (head i got features i, i+h, i+2h, …) — view(B, T, h, d_head), not (B, T, d_head, h)":
                x.reshape(B, T, dh, h).permute(0, 3, 1, 2),
        } if h > 1 else None, what=f"split_heads(x {(B, T, d)}, n_heads={h})",
            hint="first cut the last axis into (n_heads, d_head), then move the head axis in front of the time axis")


@exercise
def merge_heads(c):
    """Checks merge_heads(x (B, h, T, d_head)) -> (B, T, h * d_head), the inverse of split_heads.
    Reference: course_lib.attention.merge_heads."""
    for seed, (B, h, T, dh) in enumerate(((2, 3, 5, 4), (1, 2, 7, 3), (3, 4, 2, 5))):
        x = _rand(B, h, T, dh, seed=seed)
        out = _call(c, x)
        if isinstance(out, torch.Tensor) and tuple(out.shape) != (B, T, h * dh):
            got = tuple(out.shape)
            if got == (B, T, dh):
                raise Fail(f"your result has shape {got}: you summed or averaged the heads; concatenate them "
                           "instead, so every head keeps its own d_head features")
            if got in ((B, T, h, dh), (B, h, T, dh)):
                raise Fail(f"your result still has four axes {got}: reshape to (B, T, h * d_head)")
            if got == (B, h * dh, T):
                raise Fail(f"your result has shape {got}: tokens must stay on axis 1, (B, T, h * d_head)")
        out = c.tensor(out, shape=(B, T, h * dh), what=f"merge_heads(x {(B, h, T, dh)})")
        c.close(out, ref.merge_heads(x), mistakes={
            "you reshaped without moving the head axis back next to the features — hint: x.transpose(1, 2) "
            "first, then reshape": x.reshape(B, T, h * dh),
            "the heads' features got interleaved: head i must fill columns i*d_head .. (i+1)*d_head - 1 — "
            "transpose(1, 2) to (B, T, h, d_head), not to (B, T, d_head, h)": x.permute(0, 2, 3, 1).reshape(B, T, -1),
        } if h > 1 else None, what=f"merge_heads(x {(B, h, T, dh)})",
            hint="do split_heads backwards: bring the time axis back next to the batch, then join heads and d_head into one axis")
    x = _rand(2, 3, 5, 4, seed=7)
    out = c.tensor(_call(c, ref.split_heads(ref.merge_heads(x), 3)), shape=(2, 5, 12))
    c.close(out, ref.merge_heads(x), what="merge_heads(split_heads(x))",
            hint="merge_heads must undo split_heads exactly")


@exercise
def sinusoidal_positions(c):
    """Checks sinusoidal_positions(n_positions, d_model) -> (n_positions, d_model) with
    P[pos, 2i] = sin(pos / 10000^(2i/d_model)), P[pos, 2i+1] = cos(pos / 10000^(2i/d_model)).
    Reference: course_lib.attention.sinusoidal_positions."""
    for n, d in ((10, 16), (50, 8), (3, 2)):
        expected = ref.sinusoidal_positions(n, d)
        out = c.tensor(c.call(n, d), shape=(n, d), what=f"sinusoidal_positions({n}, {d})")
        if out.dtype != torch.float32:
            raise Fail(f"your result has dtype {out.dtype}, expected torch.float32, the dtype of the embeddings "
                       "the codes are added to — hint: torch.arange(n_positions, dtype=torch.float32)")
        pos = torch.arange(n, dtype=torch.float64)[:, None]
        two_i = torch.arange(0, d, 2, dtype=torch.float64)
        angles = pos / 10000 ** (two_i / d)                                 # the right angles, (n, d/2)

        def interleave(even, odd):
            table = torch.zeros(n, d, dtype=torch.float64)
            table[:, 0::2], table[:, 1::2] = even, odd
            return table

        per_column = pos / 10000 ** (torch.arange(d, dtype=torch.float64) / d)
        shifted = (pos + 1) / 10000 ** (two_i / d)
        by_pair_index = pos / 10000 ** (torch.arange(d // 2, dtype=torch.float64) / d)
        doubled = pos / 10000 ** (2 * two_i / d)                            # 2 * (2i): the 2 counted twice
        fast = (pos * 10000 ** (two_i / d)).float()  # huge angles: compare loosely, float32 sin drifts
        if d > 2 and torch.allclose(out.double(), interleave(torch.sin(fast), torch.cos(fast)), atol=1e-2):
            raise Fail("you multiplied the position by 10000^(2i/d); divide by it, so the frequencies slow down "
                       "from left to right")
        c.close(out, expected, mistakes={
            "sin and cos are swapped: sine goes in the even columns (0, 2, 4, …), cosine in the odd ones":
                interleave(torch.cos(angles), torch.sin(angles)),
            "you put all the sines first and all the cosines after; they alternate, column 2i = sin, "
            "2i + 1 = cos (fill table[:, 0::2] and table[:, 1::2])": torch.cat([torch.sin(angles), torch.cos(angles)], 1),
            "the exponent uses i, the pair's number; it must be 2i/d_model, the even column index over d_model":
                interleave(torch.sin(by_pair_index), torch.cos(by_pair_index)),
            "the exponent counts the 2 twice: torch.arange(0, d_model, 2) already holds 2i, so the exponent is "
            "two_i / d_model, not 2 * two_i / d_model": interleave(torch.sin(doubled), torch.cos(doubled)),
            "each column got its own frequency (column j used 10000^(j/d)); a sin/cos pair shares one, "
            "10000^(2i/d) for columns 2i and 2i + 1": interleave(torch.sin(per_column[:, 0::2]),
                                                                  torch.cos(per_column[:, 1::2])),
            "positions must start at 0, not 1": interleave(torch.sin(shifted), torch.cos(shifted)),
        } if d > 2 else None, atol=1e-4, what=f"sinusoidal_positions({n}, {d})",
            hint="each pair of columns shares one frequency, which falls with the pair index; the even column takes the sine, the odd one the cosine")


MHA_LAYOUT = ("q, k, v, out = four nn.Linear(d_model, d_model) (with bias), created in that order; "
              "self.n_heads = n_heads")


def _heads(t, h, split="right"):
    B, T, d = t.shape
    return t.view(B, T, h, d // h).transpose(1, 2) if split == "right" else t.reshape(B, h, T, d // h)


def _mha(a, x, mask=None, *, scale="d_head", mask_at="scores", dim=-1, split="right", merge="right", out=True,
         swap_qk=False, v_proj=True, invert=False):
    """The reference multi-head attention `a` (its weights) computed with one of the usual mistakes."""
    B, T, d = x.shape
    h = a.n_heads
    q, k, v = (_heads(t, h, split) for t in (a.q(x), a.k(x), a.v(x) if v_proj else x))
    if swap_qk:
        q, k = k, q
    scores = q @ k.transpose(-2, -1) / {"d_head": math.sqrt(d // h), "d_model": math.sqrt(d), "none": 1.0,
                                        "d_head, no root": d // h}[scale]
    if mask is not None and mask_at == "scores":
        scores = scores.masked_fill(mask if invert else ~mask, float("-inf"))
    w = ref.softmax(scores, dim=dim)
    if mask is not None and mask_at == "weights":
        w = w * mask
    o = w @ v
    o = {"right": lambda: o.transpose(1, 2).reshape(B, T, d), "no transpose": lambda: o.reshape(B, T, d),
         "interleaved": lambda: o.permute(0, 2, 3, 1).reshape(B, T, d)}[merge]()
    return (a.out(o) if out else o), w


_MHA_MISTAKES = {
    "the scores are divided by √d_model; each head is an attention of width d_head, so divide by "
    "√d_head = √(d_model // n_heads)": dict(scale="d_model"),
    "the scores are not scaled: divide q kᵀ by √d_head before the softmax": dict(scale="none"),
    "the scores are divided by d_head; divide by its square root, √d_head": dict(scale="d_head, no root"),
    "the mask is applied after the softmax: the weights of a row no longer sum to 1 — fill the blocked scores "
    "with -inf before the softmax": dict(mask_at="weights"),
    "the mask is ignored: blocked keys still get weight — pass it on to the attention": dict(mask_at="none"),
    "the mask works the wrong way round: True means 'may attend', so fill the scores where the mask is False "
    "(~mask)": dict(invert=True),
    "the softmax runs over the queries (dim=-2); each query's weights over the keys must sum to 1, dim=-1":
        dict(dim=-2),
    "q and k are swapped: the weights come out transposed — scores = q kᵀ, queries on the rows": dict(swap_qk=True),
    "the values are the raw inputs: project them with self.v first": dict(v_proj=False),
    "the output projection is missing: the merged heads go through self.out (W_o) at the end": dict(out=False),
    "the heads are split along the wrong axis: view (B, T, d_model) as (B, T, h, d_head), then transpose(1, 2)":
        dict(split="wrong"),
    "the heads are merged without moving the head axis back: transpose(1, 2) before the reshape":
        dict(merge="no transpose"),
    "the heads are merged in the wrong order (their features interleaved): transpose(1, 2) to "
    "(B, T, h, d_head), then reshape": dict(merge="interleaved"),
}


def _mha_cases():
    """(B, T, d_model, h, mask) cases: no mask, a causal mask, a padding mask (B, 1, 1, T)."""
    real = torch.tensor([[True] * 6, [True] * 4 + [False] * 2])
    return [(2, 5, 12, 3, None), (1, 4, 16, 4, ref.causal_mask(4)), (2, 6, 16, 4, ref.padding_mask(real)),
            (3, 7, 8, 1, None)]


def _nan_rows(out, mask):
    """Explain NaN in a masked attention's output by the rows whose every key got -inf."""
    nan = out.isnan().any(-1)                                               # (B, T) queries with NaN
    blocked_if_inverted = mask.expand(nan.size(0), 1, nan.size(1), -1)[:, 0].all(-1) \
        if mask.dim() == 4 else mask.all(-1).expand_as(nan)                 # rows that ~(~mask) leaves empty
    if torch.equal(nan, blocked_if_inverted):
        raise Fail("NaN in exactly the rows your mask leaves without a key: it works the wrong way round — "
                   "True means 'may attend', so fill the scores where the mask is False (~mask)")
    raise Fail("NaN in the output: some query had every score set to -inf, and softmax of all -inf is 0/0 — "
               "fill only the blocked scores (where the mask is False)")


@exercise
def MultiHeadAttention(c):
    """Checks the class MultiHeadAttention(d_model, n_heads): forward(x (B, T, d_model), mask=None,
    need_weights=False) -> (out (B, T, d_model), weights (B, h, T, T) or None), mask bool, True = may attend.
    Layout: q, k, v, out = nn.Linear(d_model, d_model). Reference: course_lib.attention.MultiHeadAttention."""
    cls = c.fn
    for seed, (B, T, d, h, mask) in enumerate(_mha_cases()):
        theirs = m.randomize(ref.MultiHeadAttention(d, h), seed).eval()
        mine = m.load(c, m.build(c, cls, d, h), theirs, MHA_LAYOUT)
        x = torch.randn(B, T, d, generator=torch.Generator().manual_seed(seed))
        what = f"MultiHeadAttention({d}, {h}) on x {(B, T, d)}" + ("" if mask is None else f" with a mask {tuple(mask.shape)}")
        with torch.no_grad():
            out, w = m.pair(c, m.forward(c, mine, x, mask=mask, need_weights=True, what=what), what)
            want, want_w = theirs(x, mask=mask, need_weights=True)
            if mask is not None and isinstance(out, torch.Tensor) and out.shape == (B, T, d) and out.isnan().any():
                _nan_rows(out, mask)
            out = c.tensor(out, shape=(B, T, d), dtype=torch.float32, what=f"the output of {what}")
            w = c.tensor(w, shape=(B, h, T, T), what=f"the weights of {what}")
            mistakes = {msg: _mha(theirs, x, mask, **kw)[0] for msg, kw in _MHA_MISTAKES.items()
                        if (mask is not None or "mask" not in msg) and (h > 1 or "heads" not in msg)}
            c.close(out, want, mistakes, what=f"the output of {what}",
                    hint="project x with q, k, v; split into heads; softmax(q kᵀ / √d_head) with the mask; "
                         "weights @ v; merge the heads; project with out")
            c.close(w, want_w, what=f"the weights of {what}", hint="return the softmax weights of every head, (B, h, T, T)")
        if mask is not None and mask.dim() == 4:
            real = mask[:, 0, 0]
            with torch.no_grad():
                m.padding_probe(c, lambda x: mine(x, mask=mask)[0], x, real, what=f"the output of {what}")
    theirs = m.randomize(ref.MultiHeadAttention(16, 4), 9).eval()
    mine = m.load(c, m.build(c, cls, 16, 4), theirs, MHA_LAYOUT)
    x = torch.randn(2, 5, 16, generator=torch.Generator().manual_seed(9))
    m.gradient_probe(c, mine, theirs, lambda a: a(x)[0], what="MultiHeadAttention")


ENCODER_LAYOUT = ("attn = MultiHeadAttention(d_model, n_heads); norm1 = nn.LayerNorm(d_model); ff = "
                  "nn.Sequential(nn.Linear(d_model, d_ff), nn.GELU(), nn.Linear(d_ff, d_model)); "
                  "norm2 = nn.LayerNorm(d_model); dropout = nn.Dropout(dropout)")


def _encoder_block(b, x, mask, norm_first, *, residual=(True, True), flip=False, swap_norms=False, act=F.gelu,
                   final_norm=False, use_mask=True):
    """The reference block `b` (its weights) with one of the usual mistakes."""
    n1, n2 = (b.norm2, b.norm1) if swap_norms else (b.norm1, b.norm2)
    ff = lambda t: b.ff[2](act(b.ff[0](t)))  # noqa: E731
    att = lambda t: b.attn(t, mask=mask if use_mask else None)[0]  # noqa: E731
    if norm_first != flip:
        x = x + att(n1(x)) if residual[0] else att(n1(x))
        x = x + ff(n2(x)) if residual[1] else ff(n2(x))
        return n2(x) if final_norm else x
    x = n1(x + att(x)) if residual[0] else n1(att(x))
    return n2(x + ff(x)) if residual[1] else n2(ff(x))


def _encoder_mistakes(norm_first):
    where = "x + sublayer(norm(x)), pre-LN" if norm_first else "norm(x + sublayer(x)), post-LN"
    return {
        f"the layer norms are in the wrong place for norm_first={norm_first}: this arrangement is {where}":
            dict(flip=True),
        "the residual connection around the attention is missing: add the attention's output to its input, "
        "x + attention(…)": dict(residual=(False, True)),
        "the residual connection around the feed-forward network is missing: x + ff(…)": dict(residual=(True, False)),
        "both residual connections are missing: each sub-layer's output is added to its input": dict(residual=(False, False)),
        "norm1 and norm2 are swapped: norm1 belongs to the attention, norm2 to the feed-forward network":
            dict(swap_norms=True),
        "the feed-forward network has no GELU between its two linear layers": dict(act=lambda t: t),
        "the feed-forward network uses ReLU; the exercise (and BERT) use GELU": dict(act=F.relu),
        "the mask does not reach the attention: pass mask=mask to self.attn": dict(use_mask=False),
        "the output is normalised once more at the end: a pre-LN block returns x + ff(norm2(x)) as it is "
        "(the encoder's final norm comes after the last block)": dict(final_norm=True),
    }


@exercise
def EncoderBlock(c):
    """Checks the class EncoderBlock(d_model, n_heads, d_ff=None, dropout=0.0, norm_first=False): forward(x
    (B, T, d_model), mask=None, need_weights=False) -> (x (B, T, d_model), weights (B, h, T, T) or None).
    post-LN (norm_first=False): x = norm1(x + attn(x)); x = norm2(x + ff(x)). pre-LN: x = x + attn(norm1(x));
    x = x + ff(norm2(x)). d_ff=None means 4 d_model. Reference: course_lib.attention.EncoderBlock."""
    cls = c.fn
    real = torch.tensor([[True] * 6, [True] * 4 + [False] * 2])
    for seed, (norm_first, mask) in enumerate(((False, None), (True, None), (False, ref.padding_mask(real)),
                                               (True, ref.padding_mask(real)))):
        d, h, d_ff = 16, 4, 24
        theirs = m.randomize(ref.EncoderBlock(d, h, d_ff, norm_first=norm_first), seed).eval()
        mine = m.load(c, m.build(c, cls, d, h, d_ff, 0.0, norm_first), theirs, ENCODER_LAYOUT)
        x = torch.randn(2, 6, d, generator=torch.Generator().manual_seed(seed))
        what = f"EncoderBlock({d}, {h}, d_ff={d_ff}, norm_first={norm_first})" + ("" if mask is None else " with a padding mask")
        with torch.no_grad():
            out, w = m.pair(c, m.forward(c, mine, x, mask=mask, need_weights=True, what=what), what)
            out = c.tensor(out, shape=(2, 6, d), dtype=torch.float32, what=f"the output of {what}")
            want, want_w = theirs(x, mask=mask, need_weights=True)
            mistakes = {msg: _encoder_block(theirs, x, mask, norm_first, **kw)
                        for msg, kw in _encoder_mistakes(norm_first).items()
                        if (mask is not None or "mask" not in msg) and (norm_first or "pre-LN block" not in msg)}
            c.close(out, want, mistakes, what=f"the output of {what}",
                    hint="two sub-layers, attention then feed-forward; each adds its output to its input, with the "
                         "layer norm before (pre-LN) or after (post-LN) the addition")
            if w is not None:
                c.close(c.tensor(w, shape=(2, h, 6, 6), what=f"the weights of {what}"), want_w,
                        what=f"the weights of {what}", hint="return the attention's weights unchanged")
            else:
                c.expect(False, f"{what} returned no weights with need_weights=True: pass need_weights on to "
                         "self.attn and return its weights")
        if mask is not None:
            with torch.no_grad():
                m.padding_probe(c, lambda x: mine(x, mask=mask)[0], x, real, what=f"the output of {what}")
    theirs = m.randomize(ref.EncoderBlock(16, 4, norm_first=False), 5).eval()
    mine = m.load(c, m.build(c, cls, 16, 4), theirs, ENCODER_LAYOUT + " (d_ff=None means 4 * d_model)")
    x = torch.randn(2, 5, 16, generator=torch.Generator().manual_seed(5))
    m.dropout_probe(c, lambda p: m.load(c, m.build(c, cls, 16, 4, None, p), theirs, ENCODER_LAYOUT),
                    lambda b: b(x)[0], what="EncoderBlock")
    m.gradient_probe(c, mine.train(), theirs.train(), lambda b: b(x)[0], what="EncoderBlock")
