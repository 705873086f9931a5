"""The chapter 06 checkers (poolers): references pass, stubs are 'not implemented', mistakes are named."""
import pytest
import torch

from course_lib import bert as ref
from course_lib import check

NAMES = ["cls_pool", "mean_pool", "max_pool"]


def stub(*args):
    raise NotImplementedError()


@pytest.mark.parametrize("name", NAMES)
def test_reference_passes(name):
    assert getattr(check, name)(getattr(ref, name)).status == "passed"


@pytest.mark.parametrize("name", NAMES)
def test_stub_is_not_implemented(name):
    assert getattr(check, name)(stub).status == "not_implemented"


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("garbage", [
    lambda *a: None, lambda *a: [1.0, 2.0], lambda *a: torch.zeros(7), lambda *a: torch.full((3, 4), float("nan")),
    lambda *a: 1 / 0, "not a function"])
def test_garbage_fails_without_raising(name, garbage):
    r = getattr(check, name)(garbage)
    assert r.status == "failed" and r.message


def test_strict_mode_raises():
    with pytest.raises(AssertionError):
        check.mean_pool(stub, strict=True)


@pytest.mark.parametrize("fn, phrase", [
    (lambda h, m: h[:, -1], "last position"),
    (lambda h, m: h[torch.arange(len(h)), m.sum(1) - 1], "last real token"),
    (lambda h, m: h.mean(1), "mean pooling"),
    (lambda h, m: h[:, 1], "second token"),
    (lambda h, m: h[0], "batch axis"),
    (lambda h, m: h[:, :1], "kept the token axis"),
])
def test_cls_pool_mistakes(fn, phrase):
    r = check.cls_pool(fn)
    assert r.status == "failed" and phrase in r.message, r.message


def _masked_sum(h, m):
    return (h * m[..., None]).sum(1)


@pytest.mark.parametrize("fn, phrase", [
    (lambda h, m: h.mean(1), "padding is counted"),
    (lambda h, m: _masked_sum(h, m) / h.shape[1], "full length T"),
    (lambda h, m: _masked_sum(h, m), "forgot to divide"),
    (lambda h, m: _masked_sum(h, m) / m.sum(), "whole batch"),
    (lambda h, m: (h * m[..., None]).sum(0) / m.sum(0)[:, None], "batch axis"),
    (lambda h, m: (h * m[..., None]).sum(2) / m.sum(1, keepdim=True), "features"),
    (lambda h, m: _masked_sum(h, m) / m.sum(1, keepdim=True), "NaN"),  # no guard for a fully padded row
    (lambda h, m: (h * ~m[..., None]).sum(1) / m.sum(1, keepdim=True), "other way round"),
    (lambda h, m: (h * m[:, None]).sum(1) / m.sum(1, keepdim=True), "unsqueeze(-1)"),
    (lambda h, m: h[:, :int(m[0].sum())].mean(1), "first element of the batch"),
    (lambda h, m: _masked_sum(h[:, 1:], m[:, 1:]) / (m.sum(1, keepdim=True) - 1), "left [CLS] out"),
])
def test_mean_pool_mistakes(fn, phrase):
    r = check.mean_pool(fn)
    assert r.status == "failed" and phrase in r.message, r.message


def _fill_max(h, m, value):
    return h.masked_fill(~m[..., None], value).amax(1)


@pytest.mark.parametrize("fn, phrase", [
    (lambda h, m: h.amax(1), "padding takes part"),
    (lambda h, m: (h * m[..., None]).amax(1), "padding zeros win"),
    (lambda h, m: _fill_max(h, m, 0.0), "padding zeros win"),
    (lambda h, m: h.masked_fill(~m[..., None], float("-inf")).max(1), ".values"),
    (lambda h, m: h.masked_fill(~m[..., None], float("-inf")).amax(0), "batch axis"),
    (lambda h, m: ref.mean_pool(h, m), "mean pooling"),
    (lambda h, m: _fill_max(h, m, float("-inf")), "-inf (the max of nothing)"),  # no guard for a padded row
    (lambda h, m: h.masked_fill(m[..., None], float("-inf")).amax(1), "other way round"),  # not "exp()"
    (lambda h, m: _fill_max(h, m, float("-inf")).clamp(min=0), "clipped the result at 0"),
    (lambda h, m: h.masked_fill(m[..., None], float("inf")).amax(1), "fill value won the max"),
])
def test_max_pool_mistakes(fn, phrase):
    r = check.max_pool(fn)
    assert r.status == "failed" and phrase in r.message, r.message


def test_max_pool_alternative_passes():
    def fn(h, m):
        big = torch.finfo(h.dtype).min
        out = h.masked_fill(~m[..., None], big).max(dim=1).values
        return out * m.any(1, keepdim=True)
    assert check.max_pool(fn).status == "passed"
