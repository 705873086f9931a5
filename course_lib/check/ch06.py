"""Exercise checks for chapter 06: BERT's three poolers (法一 [CLS], 法二 mean, 法三 max), padding-aware."""
import re

import torch

from .. import bert as ref
from ._core import Fail, exercise

__all__ = ["cls_pool", "mean_pool", "max_pool"]

B, T, D = 3, 5, 4


def _case(seed=0, negative=False):
    """hidden (B, T, D) with huge values at the padding (a leak shows at once), mask (B, T) with padding."""
    g = torch.Generator().manual_seed(seed)
    hidden = torch.randn(B, T, D, generator=g)
    if negative:  # the padded sequences' features all negative: a zero from the padding would win their max;
        hidden = -hidden.abs() - 0.5  # the full one (no padding) half negative, half positive, so that a
        hidden[1, :, D // 2:] *= -1   # clamp at 0 differs from padding zeros, and from all zeros
    # lengths 3, 5, 2: the first sequence is not the longest (its length is not T) and they all differ
    mask = torch.tensor([[True, True, True, False, False], [True] * 5, [True, True, False, False, False]])
    hidden = torch.where(mask[..., None], hidden, torch.full_like(hidden, 50.0))
    return hidden, mask


AXES = ("batch", "feature")


def _call(c, hidden, mask):
    """c.call, naming the broadcasting error of a mask that did not get its new axis at the end."""
    try:
        return c.call(hidden, mask)
    except Fail as e:
        sizes = re.search(r"size of tensor a \((\d+)\) must match the size of tensor b \((\d+)\)", str(e))
        if sizes and {int(n) for n in sizes.groups()} == {T, D}:
            raise Fail(f"{e} — the mask (B, T) must line up with hidden (B, T, d): give it its new axis at the "
                       "end, unsqueeze(-1) (or [..., None]), so that it broadcasts over the features") from None
        if sizes and {int(n) for n in sizes.groups()} == {B, D}:
            raise Fail(f"{e} — here a count per sequence, shape (B,), met the summed vectors (B, d) on their feature "
                       "axis: keep the counted axis with keepdim=True, (B, 1), or count from the mask's (B, T, 1) "
                       "form") from None
        raise


def _result(c, out, what):
    """Recognise the common wrong kinds of result before the generic tensor checks."""
    if type(out).__module__ == "torch.return_types":
        raise Fail(f"{what} is a (values, indices) pair from torch.max/torch.min: take its .values "
                   "(or use .amax(dim=...))")
    if isinstance(out, torch.Tensor) and tuple(out.shape) == (T, D):
        raise Fail(f"{what} has shape ({T}, {D}): you indexed or reduced the batch axis (dim 0); "
                   "pool over the tokens (dim 1) and keep one vector per sequence")
    if isinstance(out, torch.Tensor) and tuple(out.shape) == (B, T):
        raise Fail(f"{what} has shape ({B}, {T}): you pooled over the features (dim 2); "
                   "pool over the tokens (dim 1)")
    if isinstance(out, torch.Tensor) and out.dim() == 3 and out.shape[0] == B and out.shape[2] == D:
        raise Fail(f"{what} has shape {tuple(out.shape)}: you kept the token axis — "
                   "reduce it (or pick position 0) to get one vector (B, d) per sequence")
    return c.tensor(out, shape=(B, D), what=what)


def _same(out, wanted):
    """Same shape and values, infinities and NaN included."""
    return (isinstance(out, torch.Tensor) and out.shape == wanted.shape and out.is_floating_point()
            and torch.allclose(out.double(), wanted.double(), atol=1e-5, rtol=1e-4, equal_nan=True))


def _not_finite(out, what, named):
    """For a max-pooled result with ±inf or NaN: the message of the known mistake it matches ({message:
    wrong output}), else one about the fill and the mask; None when the result is finite (or no tensor)."""
    if not isinstance(out, torch.Tensor) or out.shape != (B, D) or not out.is_floating_point() \
            or torch.isfinite(out).all():
        return None
    for message, wrong in named.items():
        if _same(out, wrong):
            return message
    return (f"{what} contains ±inf or NaN: the fill value won the max of some row, or a row had nothing real "
            "left — fill only the padding (mask is True at real tokens) with -inf, and give a row without any "
            "real token zeros")


def _only_empty_row_wrong(out, expected):
    """True when `out` (B, d) matches `expected` except in the last row, the one without a real token."""
    if not isinstance(out, torch.Tensor) or out.shape != expected.shape or not out.is_floating_point():
        return False
    near = torch.isclose(out.double(), expected.double(), atol=1e-5, rtol=1e-4)
    return bool(near[:-1].all()) and not bool(near[-1].all())


def _batch_of_one(c, reference, what):
    """The first sequence alone, (1, T, d): a squeeze() without an axis would drop the batch axis too."""
    hidden, mask = _case(0)
    out = _call(c, hidden[:1], mask[:1])
    if isinstance(out, torch.Tensor) and tuple(out.shape) == (D,):
        raise Fail(f"{what} for a batch of one sequence has shape ({D},), not (1, {D}): a squeeze() without an axis "
                   "drops the batch axis too when B = 1 — name the axis (or index position 0, hidden[:, 0])")
    out = c.tensor(out, shape=(1, D), what=f"{what} for a batch of one sequence")
    c.close(out, reference(hidden[:1], mask[:1]), what=f"{what} for a batch of one sequence", axes=AXES)


@exercise
def cls_pool(c):
    """Checks cls_pool(hidden, mask) -> (B, d). Reference: course_lib.bert.cls_pool (法一)."""
    c.reference = ref.cls_pool
    c.defaults(ref.cls_pool)
    hidden, mask = _case(0)
    what = "your pooled [CLS] tensor"
    out = _result(c, _call(c, hidden, mask), what)
    last_real = hidden[torch.arange(B), mask.sum(1) - 1]
    c.close(out, ref.cls_pool(hidden, mask), what=what, axes=AXES, mistakes={
        "you took the last position: [CLS] is the first token, position 0": hidden[:, -1],
        "you took the last real token: [CLS] is the first token, position 0": last_real,
        "you averaged the tokens: that is mean pooling (法二); 法一 keeps only [CLS]": hidden.mean(1),
        "you took the second token: Python counts from 0, [CLS] is at position 0": hidden[:, 1],
        "you squashed the [CLS] vector with tanh: BERT's pooler is a trained linear layer followed by tanh, and "
        "there is no tanh (no pooler layer) here — 法一 returns the vector at position 0 as it is":
            torch.tanh(hidden[:, 0])},
        hint="[CLS] is always the first position of every sequence")
    _batch_of_one(c, ref.cls_pool, what)


@exercise
def mean_pool(c):
    """Checks mean_pool(hidden, mask) -> (B, d), padding excluded. Reference: course_lib.bert.mean_pool (法二)."""
    c.reference = ref.mean_pool
    hidden, mask = _case(1)
    m = mask[..., None].float()
    n = m.sum(1)
    what = "your mean-pooled vectors"
    out = _result(c, _call(c, hidden, mask), what)
    c.close(out, ref.mean_pool(hidden, mask), what=what, axes=AXES, mistakes={
        "padding is counted in the mean: average only the real tokens (where mask is True)": hidden.mean(1),
        "you zeroed the padding but divided by the full length T: divide by the number of real tokens "
        "of each sequence": (hidden * m).sum(1) / T,
        "you summed the real tokens but forgot to divide by their number": (hidden * m).sum(1),
        "you divided by the number of real tokens in the whole batch: divide each sequence by its own count":
            (hidden * m).sum(1) / m.sum(),
        "every row got the whole batch's mean: hidden[mask] (or a sum over the batch axis too) flattens the "
        "batch into one list of tokens — average each row separately, over its own real tokens":
            ((hidden * m).sum((0, 1)) / m.sum()).expand(B, D),
        "you kept only [CLS]: that is 法一; mean pooling averages every real token": hidden[:, 0],
        "you left [CLS] out of the average: every real position counts, [CLS] and [SEP] included (the mask "
        "is the attention mask)": (hidden * m)[:, 1:].sum(1) / (n - 1).clamp(min=1),
        "you used the mask the other way round: True marks the real tokens, so you averaged the padding":
            (hidden * (1 - m)).sum(1) / n,
        "you used the mask the other way round: True marks the real tokens, so you zeroed them and kept the "
        "padding": (hidden * (1 - m)).sum(1) / (T - n).clamp(min=1),
        "you divided by the number of real tokens but summed the padding too: zero the padded vectors before "
        "adding up": hidden.sum(1) / n,
        "you rounded the mean down: // is floor division, and a mean needs true division (/)":
            torch.div((hidden * m).sum(1), n, rounding_mode="floor")},
        hint="zero the padded vectors, add up over the length, and divide by the number of real tokens of each row")
    # a sequence with no real token at all (e.g. an empty text in a padded batch) must not give NaN
    empty = mask.clone()
    empty[2] = False
    out = _call(c, hidden, empty)
    if _only_empty_row_wrong(out, ref.mean_pool(hidden, empty)):
        if not torch.isfinite(out[2]).all():
            raise Fail("a sequence without any real token gives NaN (0 / 0): divide by the count clamped to at "
                       "least 1 (.clamp(min=1)) so that such a row pools to zeros")
        raise Fail("a sequence without any real token (the last one here) should pool to zeros, yours gives "
                   "other values there: look at what your count and your sum are when the mask has no True")
    out = _result(c, out, "your mean-pooled vectors (one row fully padded)")
    c.close(out, ref.mean_pool(hidden, empty), what="your mean-pooled vectors (one row fully padded)", axes=AXES,
            hint="a fully padded row should pool to zeros: clamp the count to at least 1")
    _batch_of_one(c, ref.mean_pool, "your mean-pooled vectors")


@exercise
def max_pool(c):
    """Checks max_pool(hidden, mask) -> (B, d), padding excluded. Reference: course_lib.bert.max_pool (法三)."""
    c.reference = ref.max_pool
    inverted = ("you used the mask the other way round: True marks the real tokens, so you filled them with "
                "-inf and took the max of the padding")
    clipped = ("you clipped the result at 0 (clamp or relu): a feature whose real values are all negative "
               "must keep its negative maximum")
    # first negative features (a zero from the padding, or a clamp at 0, would win), then any sign
    for seed, negative, what in ((3, True, "your max-pooled vectors (negative features)"),
                                 (2, False, "your max-pooled vectors")):
        hidden, mask = _case(seed, negative=negative)
        m = mask[..., None]
        expected = ref.max_pool(hidden, mask)
        over_padding = hidden.masked_fill(m, float("-inf")).amax(1)
        out = _call(c, hidden, mask)
        message = _not_finite(out, what, {inverted: over_padding})
        if message:
            raise Fail(message)
        out = _result(c, out, what)
        whole = not out.is_floating_point() or bool((out == out.round()).all())
        if out.dtype != torch.bool and whole and out.min() >= 0 and out.max() < T \
                and not (expected == expected.round()).all():
            raise Fail(f"{what} holds whole numbers from 0 to T - 1, positions along the tokens — indices? "
                       "torch.max(x, dim) returns a pair (values, indices), and [1] (or .indices, or argmax) is where each "
                       "maximum sits: take the values, [0] or .values, or use amax")
        mistakes = {
            "padding takes part in the max: only the real tokens (where mask is True) may win": hidden.amax(1),
            "multiplying by the mask (or filling padding with 0) lets padding zeros win when every feature "
            "is negative: fill the padding with a value below every real one before the max": (hidden * m).amax(1),
            "you took the smallest value: 法三 keeps the largest (amax)":
                hidden.masked_fill(~m, float("inf")).amin(1),
            "you averaged the tokens: that is mean pooling (法二); 法三 takes the largest value":
                ref.mean_pool(hidden, mask),
            inverted: torch.where((~m).any(1), over_padding, 0.0),
            clipped: expected.clamp(min=0)}
        c.close(out, expected, what=what, axes=AXES, mistakes=mistakes,
                hint="padding must never win the max: give it a value below every real one before taking the "
                     "max over the length")
    empty = mask.clone()
    empty[2] = False
    out = _call(c, hidden, empty)
    if _only_empty_row_wrong(out, ref.max_pool(hidden, empty)):
        if not torch.isfinite(out[2]).all():
            raise Fail("a sequence without any real token gives -inf (the max of nothing): return zeros for "
                       "such rows (where the mask has no True at all)")
        raise Fail(f"a sequence without any real token gives {out[2].max().item():.4g} instead of zeros: with "
                   "nothing real left, the fill value wins the max — return zeros for such rows (where the mask "
                   "has no True at all)")
    message = _not_finite(out, "your max-pooled vectors (one row fully padded)", {})
    if message:
        raise Fail(message)
    out = _result(c, out, "your max-pooled vectors (one row fully padded)")
    c.close(out, ref.max_pool(hidden, empty), what="your max-pooled vectors (one row fully padded)", axes=AXES,
            hint="a fully padded row should pool to zeros")
    _batch_of_one(c, ref.max_pool, "your max-pooled vectors")
