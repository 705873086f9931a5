"""Chapter 04 checkers: the reference passes, a stub is 'not implemented', named mistakes are recognised."""
import numpy as np
import pytest
import torch

from course_lib import attention as A
from course_lib import check


def stub(*args, **kwargs):
    raise NotImplementedError()


@pytest.mark.parametrize("name, reference", [
    ("split_heads", A.split_heads),
    ("merge_heads", A.merge_heads),
    ("sinusoidal_positions", A.sinusoidal_positions),
])
def test_reference_passes_and_stub_is_not_implemented(name, reference):
    assert getattr(check, name)(reference).status == "passed"
    assert getattr(check, name)(stub).status == "not_implemented"


def split(fn):
    """A split_heads variant written from (x, B, T, d, h, d_head)."""
    def split_heads(x, n_heads):
        B, T, d = x.shape
        return fn(x, B, T, d, n_heads, d // n_heads)
    return split_heads


@pytest.mark.parametrize("phrase, fn", [
    ("head axis must come before T", split(lambda x, B, T, d, h, dh: x.view(B, T, h, dh))),
    ("wrong axis", split(lambda x, B, T, d, h, dh: x.view(B, h, T, dh))),
    ("round-robin", split(lambda x, B, T, d, h, dh: x.view(B, T, dh, h).permute(0, 3, 1, 2))),
    ("last two axes are swapped", split(lambda x, B, T, d, h, dh: x.view(B, T, h, dh).permute(0, 2, 3, 1))),
    ("the wrong way round", split(lambda x, B, T, d, h, dh: x.view(B, T, dh, h).transpose(1, 2))),
    ("d_model // n_heads", split(lambda x, B, T, d, h, dh: x.view(B, T, h, d / h).transpose(1, 2))),
    ("d_model // n_heads", split(lambda x, B, T, d, h, dh: x.reshape(B, T, h, d / h).transpose(1, 2))),
])
def test_split_heads_mistakes_are_named(phrase, fn):
    result = check.split_heads(fn)
    assert result.status == "failed" and phrase in result.message, result.message


def merge(fn):
    def merge_heads(x):
        B, h, T, dh = x.shape
        return fn(x, B, h, T, dh)
    return merge_heads


@pytest.mark.parametrize("phrase, fn", [
    ("without moving the head axis", merge(lambda x, B, h, T, dh: x.reshape(B, T, h * dh))),
    ("interleaved", merge(lambda x, B, h, T, dh: x.permute(0, 2, 3, 1).reshape(B, T, h * dh))),
    ("no longer contiguous", merge(lambda x, B, h, T, dh: x.transpose(1, 2).view(B, T, h * dh))),
    ("summed or averaged", merge(lambda x, B, h, T, dh: x.mean(1))),
    ("four axes", merge(lambda x, B, h, T, dh: x.transpose(1, 2))),
    ("tokens must stay on axis 1", merge(lambda x, B, h, T, dh: x.reshape(B, h * dh, T))),
])
def test_merge_heads_mistakes_are_named(phrase, fn):
    result = check.merge_heads(fn)
    assert result.status == "failed" and phrase in result.message, result.message


def positions(angle_fn=None, even=torch.sin, odd=torch.cos, concat=False):
    """A sinusoidal_positions variant: angle_fn(pos, two_i, d) -> angles, even/odd column functions."""
    def sinusoidal_positions(n_positions, d_model):
        pos = torch.arange(n_positions, dtype=torch.float32)[:, None]
        two_i = torch.arange(0, d_model, 2, dtype=torch.float32)
        angles = angle_fn(pos, two_i, d_model) if angle_fn else pos / 10000 ** (two_i / d_model)
        if concat:
            return torch.cat([even(angles), odd(angles)], dim=1)
        table = torch.zeros(n_positions, d_model)
        table[:, 0::2], table[:, 1::2] = even(angles), odd(angles)
        return table
    return sinusoidal_positions


def per_column(n, d):
    pos = torch.arange(n, dtype=torch.float32)[:, None]
    angles = pos / 10000 ** (torch.arange(d, dtype=torch.float32) / d)
    table = torch.zeros(n, d)
    table[:, 0::2], table[:, 1::2] = torch.sin(angles[:, 0::2]), torch.cos(angles[:, 1::2])
    return table


@pytest.mark.parametrize("phrase, fn", [
    ("swapped", positions(even=torch.cos, odd=torch.sin)),
    ("all the sines first", positions(concat=True)),
    ("uses i, the pair's number", positions(lambda pos, two_i, d: pos / 10000 ** (two_i / 2 / d))),
    ("each column got its own frequency", per_column),
    ("start at 0", positions(lambda pos, two_i, d: (pos + 1) / 10000 ** (two_i / d))),
    ("divide by it", positions(lambda pos, two_i, d: pos * 10000 ** (two_i / d))),
    ("dtype torch.int64", lambda n, d: torch.zeros(n, d, dtype=torch.long)),
    ("expected torch.float32", lambda n, d: A.sinusoidal_positions(n, d).double()),
    ("counts the 2 twice", positions(lambda pos, two_i, d: pos / 10000 ** (2 * two_i / d))),
])
def test_sinusoidal_positions_mistakes_are_named(phrase, fn):
    result = check.sinusoidal_positions(fn)
    assert result.status == "failed" and phrase in result.message, result.message


@pytest.mark.parametrize("name", ["split_heads", "merge_heads", "sinusoidal_positions"])
@pytest.mark.parametrize("garbage", [
    lambda *a: None,
    lambda *a: [[0.0, 1.0]],
    lambda *a: np.zeros((2, 3, 5, 4)),
    lambda *a: torch.zeros(2, 2),
    lambda *a: torch.full((2, 3, 5, 4), float("nan")),
    lambda *a: {}[0],
])
def test_garbage_fails_without_raising(name, garbage):
    result = getattr(check, name)(garbage)
    assert result.status == "failed" and result.message
    assert getattr(check, name)("not a function").status == "failed"
