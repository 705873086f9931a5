"""Exercise checks for chapter 06: BERT's three poolers (法一 [CLS], 法二 mean, 法三 max), padding-aware."""
import torch

from .. import bert as ref
from ._core import Fail, exercise

__all__ = ["cls_pool", "mean_pool", "max_pool"]

B, T, D = 3, 5, 4


def _case(seed=0, negative=False):
    """hidden (B, T, D) with huge values at the padding (a leak shows at once), mask (B, T) with padding."""
    g = torch.Generator().manual_seed(seed)
    hidden = torch.randn(B, T, D, generator=g)
    if negative:
        hidden = -hidden.abs() - 0.5  # every real feature negative: a zero from padding would win the max
    mask = torch.tensor([[True] * 5, [True, True, True, False, False], [True, True, False, False, False]])
    hidden = torch.where(mask[..., None], hidden, torch.full_like(hidden, 0.0 if negative else 50.0))
    return hidden, mask


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


@exercise
def cls_pool(c):
    """Checks cls_pool(hidden, mask) -> (B, d). Reference: course_lib.bert.cls_pool (法一)."""
    hidden, mask = _case(0)
    out = _result(c, c.call(hidden, mask), "your pooled [CLS] vectors")
    last_real = hidden[torch.arange(B), mask.sum(1) - 1]
    c.close(out, ref.cls_pool(hidden, mask), what="your pooled [CLS] vectors", mistakes={
        "you took the last position: [CLS] is the first token, position 0": hidden[:, -1],
        "you took the last real token: [CLS] is the first token, position 0": last_real,
        "you averaged the tokens: that is mean pooling (法二); 法一 keeps only [CLS]": hidden.mean(1),
        "you took the second token: Python counts from 0, [CLS] is hidden[:, 0]": hidden[:, 1]},
        hint="[CLS] is always the first position of every sequence")


@exercise
def mean_pool(c):
    """Checks mean_pool(hidden, mask) -> (B, d), padding excluded. Reference: course_lib.bert.mean_pool (法二)."""
    hidden, mask = _case(1)
    m = mask[..., None].float()
    out = _result(c, c.call(hidden, mask), "your mean-pooled vectors")
    c.close(out, ref.mean_pool(hidden, mask), what="your mean-pooled vectors", mistakes={
        "padding is counted in the mean: average only the real tokens (where mask is True)": hidden.mean(1),
        "you zeroed the padding but divided by the full length T: divide by the number of real tokens "
        "of each sequence, mask.sum(dim=1)": (hidden * m).sum(1) / T,
        "you summed the real tokens but forgot to divide by their number": (hidden * m).sum(1),
        "you divided by the number of real tokens in the whole batch: divide each sequence by its own count":
            (hidden * m).sum(1) / m.sum(),
        "you kept only [CLS]: that is 法一; mean pooling averages every real token": hidden[:, 0]},
        hint="zero the padded vectors, add up over the length, and divide by the number of real tokens of each row")
    # a sequence with no real token at all (e.g. an empty text in a padded batch) must not give NaN
    empty = mask.clone()
    empty[2] = False
    out = c.call(hidden, empty)
    if isinstance(out, torch.Tensor) and out.shape == (B, D) and not torch.isfinite(out[2]).all():
        raise Fail("a sequence without any real token gives NaN (0 / 0): divide by the count clamped to at "
                   "least 1 (.clamp(min=1)) so that such a row pools to zeros")
    out = _result(c, out, "your mean-pooled vectors (one row fully padded)")
    c.close(out, ref.mean_pool(hidden, empty), what="your mean-pooled vectors (one row fully padded)",
            hint="a fully padded row should pool to zeros: clamp the count to at least 1")


@exercise
def max_pool(c):
    """Checks max_pool(hidden, mask) -> (B, d), padding excluded. Reference: course_lib.bert.max_pool (法三)."""
    hidden, mask = _case(2)
    m = mask[..., None]
    out = _result(c, c.call(hidden, mask), "your max-pooled vectors")
    c.close(out, ref.max_pool(hidden, mask), what="your max-pooled vectors", mistakes={
        "padding takes part in the max: only the real tokens (where mask is True) may win":
            hidden.amax(1),
        "you took the smallest value: 法三 keeps the largest (amax)":
            hidden.masked_fill(~m, float("inf")).amin(1),
        "you averaged the tokens: that is mean pooling (法二); 法三 takes the largest value":
            ref.mean_pool(hidden, mask)},
        hint="padding must never win the max: give it a value below every real one before taking the max over the length")
    # every real feature negative, padding = 0: zeros at the padding must not win
    neg, mask = _case(3, negative=True)
    m = mask[..., None]
    out = _result(c, c.call(neg, mask), "your max-pooled vectors (all features negative)")
    c.close(out, ref.max_pool(neg, mask), what="your max-pooled vectors (all features negative)", mistakes={
        "multiplying by the mask (or filling padding with 0) lets padding zeros win when every feature "
        "is negative: fill the padding with -inf before the max": (neg * m).amax(1),
        "padding takes part in the max: only the real tokens (where mask is True) may win": neg.amax(1)},
        hint="fill the padding with -inf, not 0, before taking the max")
    empty = mask.clone()
    empty[2] = False
    out = c.call(neg, empty)
    if isinstance(out, torch.Tensor) and out.shape == (B, D) and not torch.isfinite(out[2]).all():
        raise Fail("a sequence without any real token gives -inf (the max of nothing): return zeros for such "
                   "rows, e.g. torch.where(mask.any(dim=1, keepdim=True), pooled, 0.0)")
    out = _result(c, out, "your max-pooled vectors (one row fully padded)")
    c.close(out, ref.max_pool(neg, empty), what="your max-pooled vectors (one row fully padded)",
            hint="a fully padded row should pool to zeros")
