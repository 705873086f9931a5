"""Exercise checks for chapter 04 (multi-head attention and positions): split_heads, merge_heads,
sinusoidal_positions, and the modules MultiHeadAttention and EncoderBlock."""
import math
import re

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
        if "ints" in str(e) and "float" in str(e):
            raise Fail(f"{e} — a size must be an int: use d_model // n_heads (integer division); "
                       "d_model / n_heads is a float, even when it divides exactly") from None
        raise


def _one_sentence(got, want):
    """A result with one batch element where the input had several: code written for a single sentence."""
    return len(got) == len(want) and got[0] == 1 < want[0] and got[1:] == want[1:]


ONE_SENTENCE = ("only one batch element: your code handles the first sentence alone (an index [0] or a "
                "batch-of-one shortcut?) — treat every sentence of the batch, axis 0")


def _floats(out, what):
    if not out.is_floating_point():
        raise Fail(f"{what} has dtype {out.dtype}, expected torch.float32: the heads only rearrange x's values — "
                   "no conversion (.long(), .int(), rounding)")


CUT_TOKENS = ("you cut the token axis (dim 1) into pieces: every head sees all the tokens, and it is the features "
              "(the last axis) that are cut, into n_heads blocks of d_head")


def _split_error(e, B, T, d):
    """The message for a split that raised: the token axis cut (pieces of unequal length, each d_model wide),
    the batch size fixed at 1 (a reshape of B > 1 sentences to (1, …)); else the error itself."""
    pieces = re.search(r"stack expects each tensor to be equal size, but got \[([\d, ]+)\]", str(e))
    if pieces and [int(n) for n in pieces.group(1).split(",")][-1] == d:
        return Fail(f"{CUT_TOKENS} {_line_of(e)}".rstrip())
    if B > 1 and re.search(rf"shape '\[1, [\d, -]*\]' is invalid for input of size {B * T * d}\b", str(e)):
        return Fail(f"your code fixes the batch size at 1 (a reshape or view to (1, …)), and x holds B = {B} "
                    f"sentences: take the batch size from x.shape, as T and d_model {_line_of(e)}".rstrip())
    return e


def _line_of(e):
    line = re.search(r"\(line \d+\)", str(e))
    return line.group(0) if line else ""


@exercise
def split_heads(c):
    """Checks split_heads(x (B, T, d_model), n_heads) -> (B, h, T, d_head): head i gets features
    i*d_head .. (i+1)*d_head - 1 of every token. Reference: course_lib.attention.split_heads."""
    c.reference = ref.split_heads
    cases = [((B, T, d, h), _rand(B, T, d, seed=seed))
             for seed, (B, T, d, h) in enumerate(((2, 5, 24, 3), (1, 7, 8, 2), (3, 4, 6, 6), (2, 3, 12, 4)))]
    outs = []
    for (B, T, d, h), x in cases:
        try:
            outs.append(_call(c, x, h))
        except Fail as e:
            outs.append(_split_error(e, B, T, d))
    ran = [(size, o) for (size, _), o in zip(cases, outs) if not isinstance(o, Fail)]
    heads = {o.size(1) if isinstance(o, torch.Tensor) and o.dim() == 4 and o.size(0) == B and o.size(2) == T and
             o.size(1) * o.size(3) == d else None for (B, T, d, h), o in ran}
    if len(ran) > 1 and len(heads) == 1 and None not in heads and any(h not in heads for (_, _, _, h), _ in ran):
        raise Fail(f"your result always has {heads.pop()} heads, whatever n_heads asks for: the number of heads is "
                   "hard-coded — use the argument n_heads (and d_model // n_heads for d_head)")
    for ((B, T, d, h), x), out in zip(cases, outs):
        if isinstance(out, Fail):
            raise out
        dh = d // h
        what = f"split_heads(x {(B, T, d)}, n_heads={h})"
        if isinstance(out, torch.Tensor) and tuple(out.shape) != (B, h, T, dh):
            got = tuple(out.shape)
            if _one_sentence(got, (B, h, T, dh)):
                raise Fail(f"{what} has shape {got}: {ONE_SENTENCE}")
            if got == (B, T, h, dh) and h != T:
                raise Fail(f"your result has shape {got} = (B, T, h, d_head): the head axis must come before T "
                           "— after the view, swap the token axis and the head axis")
            if got == (B, h, dh, T) and dh != T:
                raise Fail(f"your result has shape {got} = (B, h, d_head, T): each head must hold one d_head-vector "
                           "per token, (B, h, T, d_head) — only the head axis moves in front of T; the token axis "
                           "and the d_head axis keep their order (and a view straight to (B, h, d_head, T) mixes "
                           "the features already, which no transpose afterwards undoes)")
            if got == (B, h, T // h, d) and T % h == 0 and d != dh:
                raise Fail(f"your result has shape {got} = (B, h, T / h, d_model): {CUT_TOKENS}")
            if got == (B, dh, T, h) and dh != h:
                raise Fail(f"your result has shape {got}: you split d_model into (n_heads, d_head) the wrong way "
                           "round — n_heads is the number of heads, and the head axis comes first when you cut "
                           "the last axis")
        out = c.tensor(out, shape=(B, h, T, dh), what=what)
        _floats(out, what)
        c.close(out, ref.split_heads(x, h), mistakes={
            "heads split along the wrong axis: viewing (B, T, d_model) straight as (B, h, T, d_head) mixes "
            "tokens with features — cut only the last axis into heads, then move the head axis in front of the "
            "token axis": x.reshape(B, h, T, dh),
            "each head must get a contiguous block of d_head features; yours dealt the features out "
            "round-robin (head i got features i, i+h, i+2h, …) — when you cut the last axis, the head axis "
            "comes first and d_head second": x.reshape(B, T, dh, h).permute(0, 3, 1, 2),
        } if h > 1 else None, what=what, axes=("batch", "head", "token", "feature"),
            hint="first cut the last axis into (n_heads, d_head), then move the head axis in front of the time axis")


@exercise
def merge_heads(c):
    """Checks merge_heads(x (B, h, T, d_head)) -> (B, T, h * d_head), the inverse of split_heads.
    Reference: course_lib.attention.merge_heads."""
    c.reference = ref.merge_heads
    for seed, (B, h, T, dh) in enumerate(((2, 3, 5, 4), (1, 2, 7, 3), (3, 4, 2, 5))):
        x = _rand(B, h, T, dh, seed=seed)
        out = _call(c, x)
        what = f"merge_heads(x {(B, h, T, dh)})"
        if isinstance(out, torch.Tensor) and tuple(out.shape) != (B, T, h * dh):
            got = tuple(out.shape)
            if _one_sentence(got, (B, T, h * dh)):
                raise Fail(f"{what} has shape {got}: {ONE_SENTENCE}")
            if got == (B, T, dh):
                raise Fail(f"your result has shape {got}: you summed or averaged the heads; concatenate them "
                           "instead, so every head keeps its own d_head features")
            if got in ((B, T, h, dh), (B, h, T, dh)):
                raise Fail(f"your result still has four axes {got}: reshape to (B, T, h * d_head)")
            if got == (B, h * dh, T):
                raise Fail(f"your result has shape {got}: tokens must stay on axis 1, (B, T, h * d_head)")
            if got == (B, h * T, dh):
                raise Fail(f"your result has shape {got} = (B, h·T, d_head): the heads were joined along the token "
                           "axis; each token keeps one row, and the heads go side by side along the features "
                           "(the last axis)")
            if got == (B, T * h * dh):
                raise Fail(f"your result has shape {got} = (B, T·h·d_head): the tokens were flattened into the "
                           "features too — join only the last two axes (heads and d_head), and keep T as axis 1")
            if got == (B, h, T * dh):
                raise Fail(f"your result has shape {got} = (B, h, T·d_head): x's axes are (B, h, T, d_head), in "
                           "that order — check how you unpacked x.shape")
        out = c.tensor(out, shape=(B, T, h * dh), what=what)
        _floats(out, what)
        expected = ref.merge_heads(x)
        mistakes = {
            "you reshaped without moving the head axis back next to the features — bring the token axis back "
            "next to the batch first, then reshape": x.reshape(B, T, h * dh),
            "the heads' features got interleaved: head i must fill columns i*d_head .. (i+1)*d_head - 1 — "
            "the axes before the reshape must be (B, T, h, d_head), not (B, T, d_head, h)":
                x.permute(0, 2, 3, 1).reshape(B, T, -1),
        } if h > 1 else {}
        c.name_mistake(out, expected, mistakes)
        if h > 1 and out.is_floating_point() and not torch.allclose(out.double(), expected.double(), atol=1e-5):
            blocks = out.double().reshape(B, T, h, dh)
            order = [next((j for j in range(h) if torch.allclose(blocks[:, :, i], x[:, j].double(), atol=1e-5)), None)
                     for i in range(h)]
            if None not in order and len(set(order)) == 1:
                raise Fail(f"only head {order[0]}'s features are used: every block of d_head columns holds head "
                           f"{order[0]}'s — each head fills its own block, head i the columns i*d_head .. "
                           "(i+1)*d_head - 1 (all heads side by side)")
            if None not in order and len(set(order)) < h:
                raise Fail(f"some heads are used twice and others not at all (yours puts heads {order} side by "
                           "side): each head fills its own block of d_head columns, in the order 0, 1, …")
            if None not in order and sorted(order) == list(range(h)):
                raise Fail(f"the heads are all there but in another order (yours puts heads {order} side by side): "
                           "head 0's features come first, then head 1's, …")
        c.close(out, expected, what=what, axes=("batch", "token", "feature"),
                hint="do split_heads backwards: bring the time axis back next to the batch, then join heads and d_head into one axis")
    x = _rand(2, 3, 5, 4, seed=7)
    out = c.tensor(_call(c, ref.split_heads(ref.merge_heads(x), 3)), shape=(2, 5, 12))
    c.close(out, ref.merge_heads(x), what="merge_heads(split_heads(x))",
            hint="merge_heads must undo split_heads exactly")


def _frequencies(out, pos, exponent, interleave):
    """When the table is sin / cos pairs of pos · f_i with the wrong frequencies f_i, say how they are wrong."""
    o = out.double()
    f = torch.atan2(o[1, 0::2], o[1, 1::2])                               # row 1 holds sin(f_i), cos(f_i)
    if (f < 0).any() or not torch.allclose(o, interleave(torch.sin(pos * f), torch.cos(pos * f)), atol=1e-4):
        return                                                            # not a table of that form
    right = 10000 ** -exponent
    if torch.allclose(f, torch.ones_like(f), rtol=1e-3):
        raise Fail("every column pair turns at the same speed, frequency 1: the exponent 2i/d_model came out 0 "
                   "— an integer division (//) where a true one (/) belongs?")
    if torch.allclose(f, right.flip(0), rtol=1e-3):
        raise Fail("the frequencies run the wrong way: the first pair (columns 0 and 1) must turn fastest, at "
                   "frequency 1, fast on the left and slower and slower to the right")
    ratio = f / right
    if torch.allclose(ratio, ratio[0].expand_as(ratio), rtol=1e-3):
        k = ratio[0].item()
        if abs(k - math.pi / 180) < 1e-4:
            raise Fail("every angle is π/180 times too small: the angles are radians already (sin and cos take "
                       "radians), nothing to convert from degrees")
        raise Fail(f"every angle is {k:.4g} times the reference's: pos / 10000^(2i/d_model) needs no extra factor")
    base = f[1:].log() / -exponent[1:]                                    # f_i = base^(-2i/d)
    if torch.allclose(f[0], torch.ones((), dtype=f.dtype)) and torch.isfinite(base).all() and \
            torch.allclose(base, base[0].expand_as(base), rtol=1e-3):
        raise Fail(f"the frequencies fall as powers of {base[0].exp().item():.4g}, not of 10000: check the base "
                   "of the power, 10000^(2i/d_model)")
    shown = lambda t: ", ".join(f"{v:.3g}" for v in t[:3].tolist())  # noqa: E731
    raise Fail(f"the table has the right form, sin and cos of pos · f for each pair, but the wrong frequencies f: "
               f"pairs 0, 1, 2 must turn at {shown(right)} …, yours at {shown(f)} … — check the power "
               "10000^(2i/d_model), its brackets included")


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
                       "the codes are added to" + (" — numpy and math compute in float64: build the table with "
                       "torch (float32), or convert it at the end" if out.dtype == torch.float64 else
                       " — hint: torch.arange(n_positions, dtype=torch.float32)"))
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
        mistakes = {
            "sin and cos are swapped: sine goes in the even columns (0, 2, 4, …), cosine in the odd ones":
                interleave(torch.cos(angles), torch.sin(angles)),
            "you put all the sines first and all the cosines after; they alternate, column 2i = sin, "
            "2i + 1 = cos (the even columns and the odd columns)": torch.cat([torch.sin(angles), torch.cos(angles)], 1),
            "the exponent uses i, the pair's number; it must be 2i/d_model, the even column index over d_model":
                interleave(torch.sin(by_pair_index), torch.cos(by_pair_index)),
            "the exponent counts the 2 twice: torch.arange(0, d_model, 2) already holds 2i (0, 2, 4, …), so do "
            "not multiply it by 2 again": interleave(torch.sin(doubled), torch.cos(doubled)),
            "each column got its own frequency (column j used 10000^(j/d)); a sin/cos pair shares one, "
            "10000^(2i/d) for columns 2i and 2i + 1": interleave(torch.sin(per_column[:, 0::2]),
                                                                  torch.cos(per_column[:, 1::2])),
            "positions must start at 0, not 1": interleave(torch.sin(shifted), torch.cos(shifted)),
        } if d > 2 else None
        c.name_mistake(out, expected, mistakes, atol=1e-4)
        if d > 2 and not torch.allclose(out, expected, atol=1e-4):
            _frequencies(out, pos, two_i / d, interleave)

        for cols, good, bad in ((slice(0, None, 2), "even", "odd"), (slice(1, None, 2), "odd", "even")):
            other = slice(1 - cols.start, None, 2)
            if torch.allclose(out[:, cols], expected[:, cols], atol=1e-4) and \
                    not torch.allclose(out[:, other], expected[:, other], atol=1e-4):
                raise Fail(f"the {good} columns are right, the {bad} ones are not: column 2i holds the sine of "
                           "the pair's angle, column 2i + 1 the cosine of the same angle")
        if d > 2 and not torch.allclose(out[0], expected[0], atol=1e-4):
            raise Fail("position 0's row is not sin 0 = 0, cos 0 = 1 in every pair: at position 0 every angle must "
                       "be 0 — the position multiplies the whole angle, pos / 10000^(2i/d_model)")
        c.close(out, expected, mistakes, atol=1e-4, what=f"sinusoidal_positions({n}, {d})", axes=("position", "column"),
            hint="each pair of columns shares one frequency, which falls with the pair index; the even column takes the sine, the odd one the cosine")


MHA_LAYOUT = ("q, k, v, out = four nn.Linear(d_model, d_model) (with bias), created in that order; "
              "self.n_heads = n_heads")


def _heads(t, h, split="right"):
    B, T, d = t.shape
    return t.view(B, T, h, d // h).transpose(1, 2) if split == "right" else t.reshape(B, h, T, d // h)


def _mha(a, x, mask=None, *, scale="d_head", mask_at="scores", dim=-1, split="right", merge="right", out=True,
         swap_qk=False, v_proj=True, invert=False, residual=False, scale_at="scores"):
    """The reference multi-head attention `a` (its weights) computed with one of the usual mistakes."""
    B, T, d = x.shape
    h = a.n_heads
    q, k, v = (_heads(t, h, split) for t in (a.q(x), a.k(x), {True: a.v, "k": a.k}.get(v_proj, lambda t: t)(x)))
    if swap_qk:
        q, k = k, q
    scores = q @ k.transpose(-2, -1) / 1.0 if scale_at == "weights" else q @ k.transpose(-2, -1) / {"d_head": math.sqrt(d // h), "d_model": math.sqrt(d), "none": 1.0,
                                        "d_head, no root": d // h, "d_head / 2": (d // h) / 2}[scale]
    if mask is not None and mask_at in ("scores", "zero"):
        scores = scores.masked_fill(mask if invert else ~mask, float("-inf") if mask_at == "scores" else 0.0)
    w = ref.softmax(scores, dim=dim)
    if scale_at == "weights":
        w = w / math.sqrt(d // h)
    if mask is not None and mask_at == "weights":
        w = w * mask
    o = w @ v
    if merge == "mean":  # every head's weights applied to all of v, the heads' outputs averaged
        o = w @ {True: a.v, "k": a.k}.get(v_proj, lambda t: t)(x)[:, None]
    o = {"right": lambda: o.transpose(1, 2).reshape(B, T, d), "no transpose": lambda: o.reshape(B, T, d),
         "interleaved": lambda: o.permute(0, 2, 3, 1).reshape(B, T, d), "mean": lambda: o.mean(1)}[merge]()
    return (a.out(o) if out else o) + (x if residual else 0), w


_MHA_MISTAKES = {
    "the scores are divided by √d_model; each head is an attention of width d_head, so divide by "
    "√d_head = √(d_model // n_heads)": dict(scale="d_model"),
    "the scores are not scaled: divide q kᵀ by √d_head before the softmax": dict(scale="none"),
    "the weights are divided by √d_head after the softmax: the scale belongs to the scores, before the softmax":
        dict(scale_at="weights"),
    "the scores are divided by d_head; divide by its square root, √d_head": dict(scale="d_head, no root"),
    "the scores are divided by d_head / 2: x ** 1/2 is (x ** 1) / 2 — a square root needs its exponent in "
    "brackets": dict(scale="d_head / 2"),
    "the output has x added to it: the layer returns the attention alone (the residual connection belongs to the "
    "encoder block around it)": dict(residual=True),
    "the mask is applied after the softmax: the weights of a row no longer sum to 1 — fill the blocked scores "
    "with -inf before the softmax": dict(mask_at="weights"),
    "the mask is ignored: blocked keys still get weight — pass it on to the attention": dict(mask_at="none"),
    "the blocked scores are set to 0, an ordinary score that still gets weight after the softmax: a blocked "
    "score must be -inf, so that its weight comes out 0": dict(mask_at="zero"),
    "the mask works the wrong way round: True means 'may attend', so fill the scores where the mask is False "
    "(~mask)": dict(invert=True),
    "the softmax runs over the queries (dim=-2); each query's weights over the keys must sum to 1, dim=-1":
        dict(dim=-2),
    "q and k are swapped: the weights come out transposed — scores = q kᵀ, queries on the rows": dict(swap_qk=True),
    "the values are the raw inputs: project them with self.v first": dict(v_proj=False),
    "the values come from self.k: the values have their own projection, self.v": dict(v_proj="k"),
    "the output projection is missing: the merged heads go through self.out (W_o) at the end": dict(out=False),
    "the heads are split along the wrong axis: a view straight to (B, h, T, d_head) mixes tokens with features "
    "— split q, k and v with your split_heads": dict(split="wrong"),
    "the heads are merged without moving the head axis back next to the features — merge them with your "
    "merge_heads": dict(merge="no transpose"),
    "the heads are merged in the wrong order (their features interleaved) — merge them with your merge_heads":
        dict(merge="interleaved"),
    "the heads' outputs are averaged over the heads instead of concatenated (merged): each head attends with "
    "its own d_head slice of v, and merge_heads puts the heads' results side by side": dict(merge="mean"),
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


def _weights_shape(out, w, B, T, d, h, what):
    """Name the pair's usual shape mistakes: (weights, out), no weights, weights without a head axis or with
    a fixed number of heads."""
    shape = lambda t: tuple(t.shape) if isinstance(t, torch.Tensor) else None  # noqa: E731
    if shape(out) == (B, h, T, T) and shape(w) == (B, T, d):
        raise Fail(f"{what} returned (weights, out): the pair is the wrong way round — the output comes first")
    if w is None:
        raise Fail(f"{what} returned no weights with need_weights=True: return the attention's weights "
                   "(B, h, T, T) when need_weights is true")
    if h > 1 and h != T and shape(w) == (B, T, h, h):
        raise Fail(f"the weights of {what} have shape {shape(w)} = (B, T, h, h): the attention ran across the heads "
                   "instead of the tokens — when you split q, k and v, the head axis must come before T (your "
                   "split_heads)")
    if h > 1 and shape(w) == (B, T, T):
        raise Fail(f"the weights of {what} have shape {shape(w)}, no head axis: return every head's own weights, "
                   "(B, h, T, T), not their mean or sum over the heads")
    if shape(w) and len(shape(w)) == 4 and shape(w)[::2] == (B, T) and shape(w)[3] == T and shape(w)[1] != h:
        raise Fail(f"your layer computes {shape(w)[1]} heads, MultiHeadAttention({d}, {h}) asks for {h}: the number "
                   "of heads is fixed in your code — use the n_heads given to __init__ (self.n_heads)")


def _unused(c, mine, theirs, run, what):
    """A parameter that gets no gradient at all (k used for v, norm2 for norm1 …) says more than the numbers."""
    try:
        with torch.enable_grad():
            m.gradient_probe(c, mine, theirs, run, what=what)
    except Fail as e:
        if "no gradient reaches" in str(e):
            raise
    finally:
        for module in (mine, theirs):
            module.zero_grad(set_to_none=True)


def _or_unused(unused, close, *args, **kwargs):
    """close(*args, **kwargs); if it fails, the message of unused() when a parameter is left unused."""
    try:
        close(*args, **kwargs)
    except Fail:
        unused()
        raise


@exercise
def MultiHeadAttention(c):
    """Checks the class MultiHeadAttention(d_model, n_heads): forward(x (B, T, d_model), mask=None,
    need_weights=False) -> (out (B, T, d_model), weights (B, h, T, T) or None), mask bool, True = may attend.
    Layout: q, k, v, out = nn.Linear(d_model, d_model). Reference: course_lib.attention.MultiHeadAttention."""
    c.defaults(ref.MultiHeadAttention)
    cls = c.fn
    for seed, (B, T, d, h, mask) in enumerate(_mha_cases()):
        theirs = m.randomize(ref.MultiHeadAttention(d, h), seed).eval()
        mine = m.load(c, m.build(c, cls, d, h), theirs, MHA_LAYOUT, ordered=True)
        x = torch.randn(B, T, d, generator=torch.Generator().manual_seed(seed))
        what = f"MultiHeadAttention({d}, {h}) on x {(B, T, d)}" + ("" if mask is None else f" with a mask {tuple(mask.shape)}")
        with torch.no_grad():
            out, w = m.pair(c, m.forward(c, mine, x, mask=mask, need_weights=True, what=what), what)
            want, want_w = theirs(x, mask=mask, need_weights=True)
            if mask is not None and isinstance(out, torch.Tensor) and out.shape == (B, T, d) and out.isnan().any():
                _nan_rows(out, mask)
            _weights_shape(out, w, B, T, d, h, what)
            out = c.tensor(out, shape=(B, T, d), dtype=torch.float32, what=f"the output of {what}")
            w = c.tensor(w, shape=(B, h, T, T), what=f"the weights of {what}")
            mistakes = {msg: _mha(theirs, x, mask, **kw)[0] for msg, kw in _MHA_MISTAKES.items()
                        if (mask is not None or "mask" not in msg) and (h > 1 or "heads" not in msg)}
            c.name_mistake(out, want, mistakes)
            unused = lambda: _unused(c, mine, theirs, lambda a: a(x, mask=mask)[0], "MultiHeadAttention")  # noqa: E731
            if h > 1 and torch.allclose(w, w[:, :1].expand_as(w), atol=1e-6) and \
                    not torch.allclose(want_w, want_w[:, :1].expand_as(want_w), atol=1e-4):
                if torch.allclose(out, want, atol=1e-5):  # the heads are right, only what is returned is not
                    raise Fail(f"the {h} heads of {what} return the same weights although your output is right: "
                               "return every head's own weights, (B, h, T, T), not one head's or their mean copied")
                raise Fail(f"the {h} heads of {what} all have the same weights: q, k, v were never split into heads "
                           "— one attention over the full width, copied to every head; each head attends with its "
                           "own d_head slice of q, k and v (your split_heads)")
            _or_unused(unused, c.close, w, want_w, what=f"the weights of {what}",
                       axes=("batch", "head", "query", "key"),
                       sizes={"d_head": d // h, "d_model": d}, padded=None if mask is None or mask.dim() < 4 else ~mask,
                       hint="return the softmax weights of every head, (B, h, T, T)")
            _or_unused(unused, c.close, out, want, mistakes, what=f"the output of {what}",
                       hint="project x with q, k, v; split into heads; softmax(q kᵀ / √d_head) with the mask; "
                            "weights @ v; merge the heads; project with out")
            out, w = m.pair(c, m.forward(c, mine, x, mask=mask, what=what), what)
            c.expect(w is None, f"{what} returned weights with need_weights=False (the default): they must be "
                                "None unless need_weights is true")
            out = c.tensor(out, shape=(B, T, d), dtype=torch.float32, what=f"the output of {what}, need_weights=False")
            if mask is not None and out.isnan().any():
                _nan_rows(out, mask)
            c.close(out, want, mistakes, what=f"the output of {what} with need_weights=False",
                    hint="the output must not depend on need_weights (it only decides whether the weights come "
                         "back): your output with need_weights=True is right, so look at the other path")
        if mask is not None and mask.dim() == 4:
            real = mask[:, 0, 0]
            with torch.no_grad():
                m.padding_probe(c, lambda x: mine(x, mask=mask)[0], x, real, what=f"the output of {what}")
    theirs = m.randomize(ref.MultiHeadAttention(16, 4), 9).eval()
    mine = m.load(c, m.build(c, cls, 16, 4), theirs, MHA_LAYOUT, ordered=True)
    x = torch.randn(2, 5, 16, generator=torch.Generator().manual_seed(9))
    m.device_probe(c, mine, x, what="MultiHeadAttention's forward")
    m.gradient_probe(c, mine, theirs, lambda a: a(x)[0], what="MultiHeadAttention")


ENCODER_LAYOUT = ("attn = MultiHeadAttention(d_model, n_heads); norm1 = nn.LayerNorm(d_model); ff = "
                  "nn.Sequential(nn.Linear(d_model, d_ff), nn.GELU(), nn.Linear(d_ff, d_model)); "
                  "norm2 = nn.LayerNorm(d_model); dropout = nn.Dropout(dropout)")


def _encoder_block(b, x, mask, norm_first, *, residual=(True, True), flip=False, norms=(1, 2), act=F.gelu,
                   final_norm=False, use_mask=True, normed_residual=False, parallel=False, sandwich=False):
    """The reference block `b` (its weights) with one of the usual mistakes."""
    n1, n2 = ({1: b.norm1, 2: b.norm2}[n] for n in norms)
    ff = lambda t: b.ff[2](act(b.ff[0](t)))  # noqa: E731
    att = lambda t: b.attn(t, mask=mask if use_mask else None)[0]  # noqa: E731
    x0 = x
    if sandwich:
        x = x + n1(att(x))
        return x + n2(ff(x))
    if norm_first != flip:
        h = n1(x)
        x = (h if normed_residual else x) + att(h) if residual[0] else att(h)
        h = n2(x0 if parallel else x)
        x = (h if normed_residual else x) + ff(h) if residual[1] else ff(h)
        return n2(x) if final_norm else x
    x = n1(x + att(x)) if residual[0] else n1(att(x))
    return n2(x + ff(x0 if parallel else x)) if residual[1] else n2(ff(x0 if parallel else x))


def _encoder_mistakes(norm_first):
    where = "x + sublayer(norm(x)), pre-LN" if norm_first else "norm(x + sublayer(x)), post-LN"
    return {
        f"the layer norms are in the wrong place for norm_first={norm_first}: this arrangement is {where} — "
        "check how forward uses self.norm_first":
            dict(flip=True),
        f"the layer norms are in the wrong place for norm_first={norm_first}: yours normalises only the "
        f"sub-layer's output, before the addition; this arrangement is {where}": dict(sandwich=True),
        "the residual connection around the attention is missing: add the attention's output to its input, "
        "x + attention(…)": dict(residual=(False, True)),
        "the residual connection around the feed-forward network is missing: x + ff(…)": dict(residual=(True, False)),
        "both residual connections are missing: each sub-layer's output is added to its input": dict(residual=(False, False)),
        "norm1 and norm2 are swapped: norm1 belongs to the attention, norm2 to the feed-forward network":
            dict(norms=(2, 1)),
        "the same layer norm serves both sub-layers (norm1 twice): norm1 belongs to the attention, norm2 to the "
        "feed-forward network": dict(norms=(1, 1)),
        "the same layer norm serves both sub-layers (norm2 twice): norm1 belongs to the attention, norm2 to the "
        "feed-forward network": dict(norms=(2, 2)),
        "the feed-forward network reads the block's input: it must work on x after the attention sub-layer "
        "(its residual added)": dict(parallel=True),
        **({"the residual path carries the normalised x: in a pre-LN block the layer norm feeds only the "
            "sub-layer, and the un-normalised x is what gets added": dict(normed_residual=True)} if norm_first else {}),
        "the feed-forward network has no GELU between its two linear layers": dict(act=lambda t: t),
        "the feed-forward network uses ReLU; the exercise (and BERT) use GELU": dict(act=F.relu),
        "the feed-forward network uses GELU's tanh approximation; the layout's nn.GELU() is the exact one":
            dict(act=lambda t: F.gelu(t, approximate="tanh")),
        "the mask does not reach the attention: pass mask=mask to self.attn": dict(use_mask=False),
        "the output is normalised once more at the end: a pre-LN block returns the sum after its second "
        "residual as it is (the encoder's final norm comes after the last block)": dict(final_norm=True),
    }


def _dropout_inputs(c, cls, norm_first, x):
    """self.dropout must get each sub-layer's output, the attention's and then the feed-forward network's.
    (A block that never calls self.dropout, but F.dropout(…, training=self.training), passed the dropout probe.)"""
    c.count += 1
    theirs = m.randomize(ref.EncoderBlock(16, 4, norm_first=norm_first), 11).eval()
    mine = m.load(c, m.build(c, cls, 16, 4, None, 0.0, norm_first), theirs, ENCODER_LAYOUT)
    got, drop = [], getattr(mine, "dropout", None)
    if not isinstance(drop, torch.nn.Dropout):
        return m.dropout_calls(c, mine, lambda b: b(x), 2, what="EncoderBlock")  # says what the layout asks for
    handle = drop.register_forward_hook(lambda _, given, __: got.append(given[0]))
    try:
        with torch.no_grad():
            mine(x)
    finally:
        handle.remove()
    if not got:
        return
    if len(got) != 2:
        m.dropout_calls(c, mine, lambda b: b(x), 2, what="EncoderBlock", where="once to the attention's output "
                        "and once to the feed-forward network's, before each is added")
    with torch.no_grad():
        a = theirs.attn(theirs.norm1(x) if norm_first else x)[0]
        x1 = x + a if norm_first else theirs.norm1(x + a)
        f = theirs.ff(theirs.norm2(x1) if norm_first else x1)
    for t, want, name in zip(got, (a, f), ("the attention's", "the feed-forward network's")):
        if t.shape != want.shape or not torch.allclose(t.double(), want.double(), atol=1e-5):
            raise Fail(f"with norm_first={norm_first}, self.dropout is not given {name} output: apply it to each "
                       "sub-layer's output before it is added to x — not to the sum, nor after the layer norm")


@exercise
def EncoderBlock(c):
    """Checks the class EncoderBlock(d_model, n_heads, d_ff=None, dropout=0.0, norm_first=False): forward(x
    (B, T, d_model), mask=None, need_weights=False) -> (x (B, T, d_model), weights (B, h, T, T) or None).
    post-LN (norm_first=False): x = norm1(x + attn(x)); x = norm2(x + ff(x)). pre-LN: x = x + attn(norm1(x));
    x = x + ff(norm2(x)). d_ff=None means 4 d_model. Reference: course_lib.attention.EncoderBlock."""
    c.defaults(ref.EncoderBlock)
    cls = c.fn
    real = torch.tensor([[True] * 6, [True] * 4 + [False] * 2])
    for seed, (norm_first, mask) in enumerate(((False, None), (True, None), (False, ref.padding_mask(real)),
                                               (True, ref.padding_mask(real)))):
        d, h, d_ff = 16, 4, 24
        theirs = m.randomize(ref.EncoderBlock(d, h, d_ff, norm_first=norm_first), seed).eval()
        mine = m.build(c, cls, d, h, d_ff, 0.0, norm_first)
        ff = getattr(mine, "ff", None)
        first = ff[0] if isinstance(ff, torch.nn.Sequential) and len(ff) else None
        if isinstance(first, torch.nn.Linear) and first.out_features == 4 * d != d_ff:
            raise Fail(f"EncoderBlock({d}, {h}, d_ff={d_ff}) built its feed-forward network {4 * d} wide: the d_ff "
                       "given was ignored — 4 · d_model is only the default, for d_ff=None")
        mine = m.load(c, mine, theirs, ENCODER_LAYOUT)
        x = torch.randn(2, 6, d, generator=torch.Generator().manual_seed(seed))
        what = f"EncoderBlock({d}, {h}, d_ff={d_ff}, norm_first={norm_first})" + ("" if mask is None else " with a padding mask")
        with torch.no_grad():
            out, w = m.pair(c, m.forward(c, mine, x, mask=mask, need_weights=True, what=what), what)
            out = c.tensor(out, shape=(2, 6, d), dtype=torch.float32, what=f"the output of {what}")
            want, want_w = theirs(x, mask=mask, need_weights=True)
            mistakes = {msg: _encoder_block(theirs, x, mask, norm_first, **kw)
                        for msg, kw in _encoder_mistakes(norm_first).items()
                        if (mask is not None or "mask" not in msg) and (norm_first or "pre-LN block" not in msg)}
            c.name_mistake(out, want, mistakes)  # a known mistake (norm2 twice …) before an unused parameter
            _or_unused(lambda: _unused(c, mine, theirs, lambda b: b(x, mask=mask)[0], "EncoderBlock"), c.close,
                       out, want, mistakes, what=f"the output of {what}",
                       hint="two sub-layers, attention then feed-forward; each adds its output to its input, with "
                            "the layer norm before (pre-LN) or after (post-LN) the addition")
            if isinstance(w, torch.Tensor) and w.shape == (2, 6, 6):
                raise Fail(f"the weights of {what} have shape (2, 6, 6), no head axis: pass the attention's weights "
                           "on unchanged, (B, h, T, T)")
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
    for norm_first in (False, True):
        _dropout_inputs(c, cls, norm_first, x)
    m.device_probe(c, mine, x, what="EncoderBlock's forward")
    m.gradient_probe(c, mine.train(), theirs.train(), lambda b: b(x)[0], what="EncoderBlock")
