"""The check framework survives anything a student can hand it, and strict mode raises."""
import numpy as np
import pytest
import torch

from course_lib.check import Fail, exercise


@exercise
def double(c):
    """Checks double(x) -> 2 x."""
    x = torch.arange(6.0).reshape(2, 3)
    out = c.tensor(c.call(x), shape=(2, 3))
    c.close(out, 2 * x, {"you squared instead of doubling": x ** 2}, hint="multiply by 2")


def _stub(x):
    raise NotImplementedError()


def _mutates(x):
    x.mul_(2)
    return x


@pytest.mark.parametrize("fn,status,phrase", [
    (lambda x: 2 * x, "passed", "passed (1 checks)"),
    (_mutates, "failed", "changed its input (`x`) in place"),
    (lambda x: (2 * x).double(), "failed", "has dtype torch.float64, expected torch.float32"),
    (lambda x: (2 * x, x), "failed", "a tuple of 2 tensors, expected one tensor"),
    (lambda x: torch.full_like(x, float("-inf")), "failed", "contains -inf"),
    (_stub, "not_implemented", "not implemented yet"),
    (lambda x: None, "failed", "forget to `return`"),
    (lambda x: (2 * x).tolist(), "failed", "expected a torch.Tensor"),
    (lambda x: np.zeros((2, 3)), "failed", "expected a torch.Tensor"),
    (lambda x: (2 * x).T, "failed", "looks transposed"),
    (lambda x: (2 * x).reshape(3, 2).contiguous()[:, :1], "failed", "expected (2, 3)"),
    (lambda x: x * float("nan"), "failed", "NaN"),
    (lambda x: x / 0, "failed", "inf"),
    (lambda x: x ** 2, "failed", "you squared instead of doubling"),
    (lambda x: 2 * x + 1, "failed", "plus 1 everywhere"),
    (lambda x: 2 * x + torch.zeros(2, 3), "failed", "makes a tensor on the CPU"),
    (lambda x: 2 * x + torch.zeros(2, 3, device=x.device), "passed", "passed"),
    (lambda x: 2 * x * (x.sum() / x.sum()).item(), "passed", "passed"),  # .item() fails on meta: not a device bug
    (lambda x: 2 * x + x.amax(-1, keepdim=True), "failed", "every row is off by its own constant"),
    (lambda x: torch.cat([2 * x[:1], x[1:]]), "failed", "wrong only in the last row"),
    (lambda x: 3 * x, "failed", "reference times 1.5"),
    (lambda x: (2 * x)[[1, 0]], "failed", "in another order"),
    (lambda x: 1 / 0, "failed", "raised ZeroDivisionError"),
    (lambda x: (2 * x).long(), "passed", "passed"),
    (lambda x: (2 * x).unsqueeze(0), "failed", "extra axis of size 1"),
    (lambda x: (2 * x)[:1].squeeze(0), "failed", "expected (2, 3)"),
    ("not a function", "failed", "expected your function `double`"),
    (None, "failed", "expected your function"),
])
def test_every_kind_of_answer_gets_one_line(fn, status, phrase, capsys):
    result = double(fn)
    assert result.status == status
    assert phrase in result.message
    lines = capsys.readouterr().out.strip().split("\n")
    assert len(lines) == 1 and lines[0][0] in "✅❌⏳"


def test_strict_mode_raises(monkeypatch):
    with pytest.raises(AssertionError, match="squared"):
        double(lambda x: x ** 2, strict=True)
    with pytest.raises(AssertionError, match="not implemented"):
        double(_stub, strict=True)
    assert double(lambda x: 2 * x, strict=True).passed
    monkeypatch.setenv("COURSE_STRICT", "1")
    with pytest.raises(AssertionError):
        double(lambda x: x + 1)
    assert double(lambda x: x + 1, strict=False).status == "failed"


@pytest.mark.parametrize("course_strict, grader, raises", [
    (None, "autograde", True), (None, "validate", True), (None, None, False),
    ("0", "autograde", False), ("1", None, True),
])
def test_nbgrader_kernels_are_strict_unless_told_otherwise(monkeypatch, course_strict, grader, raises):
    for name, value in (("COURSE_STRICT", course_strict), ("NBGRADER_EXECUTION", grader)):
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)
    if raises:
        with pytest.raises(AssertionError):
            double(lambda x: x + 1)
    else:
        assert double(lambda x: x + 1).status == "failed"
    assert double(lambda x: 2 * x).passed


def test_a_broken_checker_does_not_raise():
    @exercise
    def broken(c):
        raise KeyError("oops")

    assert broken(lambda: 0).status == "failed"


def test_fail_and_expect():
    @exercise
    def positive(c):
        c.expect(c.call() > 0, "the result must be positive")
        raise Fail("and this says why")

    assert positive(lambda: -1).message == "the result must be positive"
    assert positive(lambda: 1).message == "and this says why"


def test_an_unfinished_helper_is_named():
    def helper(x):
        raise NotImplementedError()

    def uses_helper(x):
        return helper(x) * 2

    result = double(uses_helper)
    assert result.status == "not_implemented" and "calls `helper`" in result.message


def test_close_explains_a_shape_mismatch():
    @exercise
    def plus_one(c):
        c.close(c.tensor(c.call(torch.zeros(2, 3))), torch.ones(2, 3), what="your sum")

    result = plus_one(lambda x: (x + 1).sum(0), quiet=True)
    assert result.status == "failed" and "your sum has shape (3,), expected (2, 3)" in result.message


@exercise
def row_sums(c):
    """Checks row_sums(x) -> x.sum(-1) on inputs of two sizes."""
    for shape in [(2, 3), (4, 5)]:
        x = torch.arange(float(shape[0] * shape[1])).reshape(shape)
        c.close(c.tensor(c.call(x)), x.sum(-1))


@pytest.mark.parametrize("fn, phrase", [
    (lambda x: x[:, :3].sum(-1), "right when `x` had shape (2, 3), but not for (4, 5): is a size fixed"),
    (lambda x: x.sum(-1)[:2], "right when `x` had shape (2, 3), but not for (4, 5): is a size fixed"),
    (lambda x: x.sum(0), "3 is the size of axis 1 of `x`: did a sum, mean or product run over the wrong axis?"),
    (lambda x: x.sum(-1) + torch.zeros(x.shape[0]), "with device=x.device"),
])
def test_notes_from_the_inputs(fn, phrase):
    """A size fixed to the first input, a size taken from the wrong axis and a device, named after the argument."""
    result = row_sums(fn)
    assert result.status == "failed" and phrase in result.message, result.message


def test_the_device_note_names_the_argument():
    def one_hot(ids, V):
        out = torch.zeros(len(ids), V)
        out[torch.arange(len(ids)), ids] = 1
        return out
    from course_lib import check
    result = check.one_hot(one_hot)
    assert result.status == "failed" and "with `ids` on a GPU" in result.message and "device=ids.device" in \
        result.message, result.message


@exercise
def masked_rows(c):
    """Checks masked_rows(x) -> softmax(x) over the last axis, for a (3, 4) x."""
    x = torch.arange(12.0).reshape(3, 4)
    c.close(c.tensor(c.call(x)), torch.softmax(x, -1))


def test_masked_scores_returned_before_the_softmax_are_named():
    result = masked_rows(lambda x: x.masked_fill(torch.eye(3, 4, dtype=torch.bool), float("-inf")))
    assert "though no row is -inf throughout: masked scores" in result.message, result.message
    result = masked_rows(lambda x: x.masked_fill(torch.ones(3, 4, dtype=torch.bool), float("-inf")))
    assert "a max or a row over positions that are all masked" in result.message, result.message


def test_a_batch_of_one_is_named_in_shape_notes():
    from course_lib.check._core import shape_note
    assert "handle only the first element" in shape_note((1, 10), (4, 10))
    assert "handle only the first element" not in shape_note((4, 1), (4, 10))
