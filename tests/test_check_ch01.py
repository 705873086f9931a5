"""Chapter 01 checks: the reference passes, unfinished work says so, common mistakes are named."""
import pytest
import torch
import torch.nn.functional as F

from course_lib import check, text


def _stub(*args):
    raise NotImplementedError()


def test_one_hot():
    assert check.one_hot(text.one_hot).passed
    assert check.one_hot(lambda ids, V: torch.eye(V, device=ids.device)[ids]).passed
    assert check.one_hot(_stub).status == "not_implemented"
    for wrong, phrase in [
        (lambda ids, V: F.one_hot(ids, V), "integers"),
        (lambda ids, V: text.one_hot(ids, V).T, "transposed"),
        (lambda ids, V: torch.eye(V)[ids - 1], "one column too far left"),
        (lambda ids, V: torch.ones(len(ids), V), "single 1"),
        (lambda ids, V: torch.eye(len(ids), V), "mark positions, not ids"),
        (lambda ids, V: None, "return"),
        (lambda ids, V: torch.eye(V)[ids], "device"),
    ]:
        result = check.one_hot(wrong)
        assert result.status == "failed" and phrase in result.message, result.message


def test_embed():
    assert check.embed(lambda ids, W: W[ids]).passed
    assert check.embed(lambda ids, W: text.one_hot(ids, W.shape[0]) @ W).passed
    assert check.embed(_stub).status == "not_implemented"
    for wrong, phrase in [
        (lambda ids, W: text.one_hot(ids, W.shape[0]) @ W.T, "raised RuntimeError"),
        (lambda ids, W: W[(ids + 1) % W.shape[0]], "off by one"),
        (lambda ids, W: W[: len(ids)], "positions, not ids"),
        (lambda ids, W: W[ids].sum(0, keepdim=True).expand(len(ids), -1), "summed"),
        (lambda ids, W: text.one_hot(ids, W.shape[0]), "the one-hot matrix itself"),
    ]:
        result = check.embed(wrong)
        assert result.status == "failed" and phrase in result.message, result.message


def test_sequence_logits():
    assert check.sequence_logits(lambda x, W: x.sum(1) @ W).passed
    assert check.sequence_logits(lambda x, W: torch.einsum("btd,dc->bc", x, W)).passed
    assert check.sequence_logits(_stub).status == "not_implemented"
    for wrong, phrase in [
        (lambda x, W: x @ W, "one output per token"),
        (lambda x, W: x.sum(0) @ W, "over the batch"),
        (lambda x, W: x.mean(1) @ W, "averaged"),
        (lambda x, W: x[:, 0] @ W, "first token"),
        (lambda x, W: x[:, -1] @ W, "last token"),
    ]:
        result = check.sequence_logits(wrong)
        assert result.status == "failed" and phrase in result.message, result.message


@pytest.mark.parametrize("garbage", [None, 3, "x", [1, 2], lambda *a: float("nan")])
def test_garbage_never_raises(garbage):
    for name in check.ch01.__all__:
        assert getattr(check, name)(garbage).status == "failed"


def test_a_float64_one_hot_is_caught():
    result = check.one_hot(lambda ids, vocab_size: torch.nn.functional.one_hot(ids, vocab_size).double())
    assert result.status == "failed" and "dtype torch.float64, expected torch.float32" in result.message
