"""Exercise checks for chapter 04 (multi-head attention and positions): split_heads, merge_heads,
sinusoidal_positions."""
import torch

from .. import attention as ref
from ._core import Fail, exercise

__all__ = ["split_heads", "merge_heads", "sinusoidal_positions"]


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
                raise Fail(f"your result has shape {got} = (B, h, d_head, T): the last two axes are swapped; "
                           "each head holds one d_head-vector per token, (B, h, T, d_head)")
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
