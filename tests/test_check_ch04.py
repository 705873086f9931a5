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
    ("each head must hold one d_head-vector per token", split(lambda x, B, T, d, h, dh: x.view(B, T, h, dh).permute(0, 2, 3, 1))),
    ("the wrong way round", split(lambda x, B, T, d, h, dh: x.view(B, T, dh, h).transpose(1, 2))),
    ("d_model // n_heads", split(lambda x, B, T, d, h, dh: x.view(B, T, h, d / h).transpose(1, 2))),
    ("d_model // n_heads", split(lambda x, B, T, d, h, dh: x.reshape(B, T, h, d / h).transpose(1, 2))),
    ("hard-coded", split(lambda x, B, T, d, h, dh: x.view(B, T, 2, d // 2).transpose(1, 2))),
    ("only one batch element", split(lambda x, B, T, d, h, dh: x[:1].view(1, T, h, dh).transpose(1, 2))),
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
    ("view() cannot follow a transpose", merge(lambda x, B, h, T, dh: x.transpose(1, 2).view(B, T, h * dh))),
    ("summed or averaged", merge(lambda x, B, h, T, dh: x.mean(1))),
    ("four axes", merge(lambda x, B, h, T, dh: x.transpose(1, 2))),
    ("tokens must stay on axis 1", merge(lambda x, B, h, T, dh: x.reshape(B, h * dh, T))),
    ("joined along the token axis", merge(lambda x, B, h, T, dh: x.reshape(B, h * T, dh))),
    ("in another order", merge(lambda x, B, h, T, dh: x.flip(1).transpose(1, 2).reshape(B, T, h * dh))),
    ("only one batch element", merge(lambda x, B, h, T, dh: x[:1].transpose(1, 2).reshape(1, T, h * dh))),
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
    ("powers of 1000,", positions(lambda pos, two_i, d: pos / 1000 ** (two_i / d))),
    ("integer division", positions(lambda pos, two_i, d: pos / 10000 ** (two_i // d))),
    ("run the wrong way", positions(lambda pos, two_i, d: pos / 10000 ** (two_i.flip(0) / d))),
    ("the wrong frequencies", positions(lambda pos, two_i, d: pos / 10000 ** two_i / d)),
    ("position 0's row", positions(lambda pos, two_i, d: (pos / 10000) ** (two_i / d))),
    ("the odd ones are not", positions(odd=torch.sin)),
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


# ---- the module exercises: MultiHeadAttention and EncoderBlock --------------------------------------------

class _MHA(torch.nn.Module):
    """A student's MultiHeadAttention written the way the exercise asks, with switches for the usual mistakes."""

    def __init__(self, d_model, n_heads, bias=True, **mistake):
        super().__init__()
        self.n_heads, self.mistake = n_heads, mistake
        self.q, self.k, self.v, self.out = (torch.nn.Linear(d_model, d_model, bias=bias) for _ in range(4))

    def forward(self, x, mask=None, need_weights=False):
        got = self.mistake
        B, T, d = x.shape
        h = self.n_heads
        q, k, v = (A.split_heads(p(x), h) for p in (self.q, self.k, self.v))
        if got.get("split_view"):
            q, k, v = (p(x).view(B, h, T, d // h) for p in (self.q, self.k, self.v))
        scale = {"d_model": d ** 0.5, "none": 1.0}.get(got.get("scale"), (d // h) ** 0.5)
        scores = q @ k.transpose(-2, -1) / scale
        if mask is not None and not got.get("ignore_mask") and not got.get("after"):
            scores = scores.masked_fill(mask if got.get("invert") else ~mask, float("-inf"))
        w = torch.softmax(scores, dim=-2 if got.get("dim") else -1)
        if mask is not None and got.get("after"):
            w = w * mask
        o = w @ v
        if got.get("zero_fill") and mask is not None:
            w = torch.softmax((q @ k.transpose(-2, -1) / scale).masked_fill(~mask, 0.0), dim=-1)
            o = w @ v
        o = o.permute(0, 2, 3, 1).reshape(B, T, d) if got.get("interleave") else A.merge_heads(o)
        if got.get("inplace"):
            x += 0
            x.mul_(1.5)
        out = o if got.get("no_out") else self.out(o)
        if got.get("detach"):
            out = self.out(o.detach())
        if got.get("mean_weights"):
            w = w.mean(1)
        return (out.detach() if got.get("no_grad") else out), (w if need_weights or got.get("always") else None)


def mha_variant(**mistake):
    class MultiHeadAttention(_MHA):
        def __init__(self, d_model, n_heads):
            super().__init__(d_model, n_heads, **mistake)
    return MultiHeadAttention


def test_a_written_out_multi_head_attention_passes():
    assert check.MultiHeadAttention(mha_variant()).status == "passed"


@pytest.mark.parametrize("phrase, cls", [
    ("√d_model", mha_variant(scale="d_model")),
    ("not scaled", mha_variant(scale="none")),
    ("after the softmax", mha_variant(after=True)),
    ("mask is ignored", mha_variant(ignore_mask=True)),
    ("wrong way round", mha_variant(invert=True)),
    ("over the queries", mha_variant(dim=True)),
    ("output projection is missing", mha_variant(no_out=True)),
    ("interleaved", mha_variant(interleave=True)),
    ("split along the wrong axis", mha_variant(split_view=True)),
    ("in place", mha_variant(inplace=True)),
    ("no gradient reaches", mha_variant(detach=True)),
    ("carries no gradient", mha_variant(no_grad=True)),
    ("set to 0", mha_variant(zero_fill=True)),
    ("not their mean or sum", mha_variant(mean_weights=True)),
    ("None unless need_weights is true", mha_variant(always=True)),
])
def test_multi_head_attention_mistakes_are_named(phrase, cls):
    result = check.MultiHeadAttention(cls)
    assert result.status == "failed" and phrase in result.message, result.message


def test_multi_head_attention_layout_and_construction_problems_are_named():
    class NoBias(_MHA):
        def __init__(self, d_model, n_heads):
            super().__init__(d_model, n_heads, bias=False)

    class Fused(torch.nn.Module):
        def __init__(self, d_model, n_heads):
            super().__init__()
            self.qkv = torch.nn.Linear(d_model, 3 * d_model)

    class NoSuper(torch.nn.Module):
        def __init__(self, d_model, n_heads):
            self.q = torch.nn.Linear(d_model, d_model)

    class Unfinished(torch.nn.Module):
        def __init__(self, d_model, n_heads):
            super().__init__()
            raise NotImplementedError()

    assert "no parameter `q.bias`" in check.MultiHeadAttention(NoBias).message
    assert "parameters the layout does not: `qkv.weight`" in check.MultiHeadAttention(Fused).message
    assert "super().__init__()" in check.MultiHeadAttention(NoSuper).message
    assert check.MultiHeadAttention(Unfinished).status == "not_implemented"
    assert "expected a class" in check.MultiHeadAttention(lambda d, h: None).message


class _Block(torch.nn.Module):
    """A student's EncoderBlock, with switches for the usual mistakes."""

    def __init__(self, d_model, n_heads, d_ff=None, dropout=0.0, norm_first=False, **mistake):
        super().__init__()
        d_ff = d_ff or 4 * d_model
        self.norm_first, self.mistake = norm_first, mistake
        self.attn = A.MultiHeadAttention(d_model, n_heads)
        self.norm1 = torch.nn.LayerNorm(d_model)
        act = torch.nn.ReLU() if mistake.get("relu") else torch.nn.GELU()
        self.ff = torch.nn.Sequential(torch.nn.Linear(d_model, d_ff), act, torch.nn.Linear(d_ff, d_model))
        self.norm2 = torch.nn.LayerNorm(d_model)
        self.dropout = torch.nn.Dropout(dropout)
        self.p = dropout

    def forward(self, x, mask=None, need_weights=False):
        got = self.mistake
        drop = (lambda t: torch.nn.functional.dropout(t, self.p)) if got.get("eval_dropout") else self.dropout
        if got.get("no_dropout"):
            drop = lambda t: t  # noqa: E731
        mask = None if got.get("no_mask") else mask
        pre = self.norm_first != bool(got.get("flip"))
        n1, n2 = (self.norm2, self.norm1) if got.get("swap") else (self.norm1, self.norm2)
        keep = 0.0 if got.get("no_residual") else 1.0
        if pre:
            a, w = self.attn(n1(x), mask=mask, need_weights=need_weights)
            x = keep * x + drop(a)
            x = x + (self.ff(n2(x)) if got.get("one_dropout") else drop(self.ff(n2(x))))
        else:
            a, w = self.attn(x, mask=mask, need_weights=need_weights)
            x = n1(keep * x + drop(a))
            x = n2(x + (self.ff(x) if got.get("one_dropout") else drop(self.ff(x))))
        return x, w


def block_variant(**mistake):
    class EncoderBlock(_Block):
        def __init__(self, d_model, n_heads, d_ff=None, dropout=0.0, norm_first=False):
            super().__init__(d_model, n_heads, d_ff, dropout, norm_first, **mistake)
    return EncoderBlock


def test_a_written_out_encoder_block_passes():
    assert check.EncoderBlock(block_variant()).status == "passed"


@pytest.mark.parametrize("phrase, cls", [
    ("wrong place", block_variant(flip=True)),
    ("around the attention is missing", block_variant(no_residual=True)),
    ("swapped", block_variant(swap=True)),
    ("uses ReLU", block_variant(relu=True)),
    ("does not reach the attention", block_variant(no_mask=True)),
    ("in eval mode", block_variant(eval_dropout=True)),
    ("never applies dropout", block_variant(no_dropout=True)),
    ("applies self.dropout 1 time", block_variant(one_dropout=True)),
])
def test_encoder_block_mistakes_are_named(phrase, cls):
    result = check.EncoderBlock(cls)
    assert result.status == "failed" and phrase in result.message, result.message


def test_choose_takes_yours_only_when_it_passes(capsys):
    yours = block_variant()
    assert check.choose(yours, A.EncoderBlock) is yours
    assert "uses your EncoderBlock" in capsys.readouterr().out
    assert check.choose(block_variant(flip=True), A.EncoderBlock) is A.EncoderBlock
    assert "goes on with the library's course_lib.attention.EncoderBlock" in capsys.readouterr().out


def test_encoder_block_dropout_placement_and_d_ff_are_named():
    class AfterTheAdd(block_variant()):
        def forward(self, x, mask=None, need_weights=False):
            if self.norm_first:
                return super().forward(x, mask, need_weights)
            a, w = self.attn(x, mask=mask, need_weights=need_weights)
            x = self.dropout(self.norm1(x + a))
            return self.dropout(self.norm2(x + self.ff(x))), w

    class FixedWidth(block_variant()):
        def __init__(self, d_model, n_heads, d_ff=None, dropout=0.0, norm_first=False):
            super().__init__(d_model, n_heads, None, dropout, norm_first)

    assert "before it is added" in check.EncoderBlock(AfterTheAdd).message
    assert "d_ff given was ignored" in check.EncoderBlock(FixedWidth).message
