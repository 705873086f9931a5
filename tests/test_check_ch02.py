"""The chapter 02 checkers: references pass, stubs are 'not implemented', mistakes are named."""
import pytest
import torch

from course_lib import check
from course_lib.rnn import lstm_step as ref_lstm_step
from course_lib.rnn import rnn_step as ref_rnn_step


def stub(*args):
    raise NotImplementedError()


def _status(name, fn):
    return getattr(check, name)(fn)


@pytest.mark.parametrize("name", ["rnn_step", "lstm_step", "rnn_forward"])
def test_stub_is_not_implemented(name):
    assert _status(name, stub).status == "not_implemented"


@pytest.mark.parametrize("name", ["rnn_step", "lstm_step", "rnn_forward"])
@pytest.mark.parametrize("garbage", [
    lambda *a: None, lambda *a: [1.0, 2.0], lambda *a: torch.zeros(7), lambda *a: torch.full((3, 5), float("nan")),
    lambda *a: 1 / 0, "not a function"])
def test_garbage_fails_without_raising(name, garbage):
    r = _status(name, garbage)
    assert r.status == "failed" and r.message


def test_strict_mode_raises():
    with pytest.raises(AssertionError):
        check.rnn_step(stub, strict=True)


# ---------- rnn_step ----------

def test_rnn_step_reference_passes():
    assert check.rnn_step(ref_rnn_step).status == "passed"


@pytest.mark.parametrize("fn, phrase", [
    (lambda x, h, W, U, b: torch.sigmoid(x @ W + h @ U + b), "sigmoid"),
    (lambda x, h, W, U, b: x @ W + h @ U + b, "forgot the tanh"),
    (lambda x, h, W, U, b: torch.tanh(x @ W + b), "old state h is not used"),
    (lambda x, h, W, U, b: torch.tanh(x @ W + h @ U), "bias"),
    (lambda x, h, W, U, b: torch.tanh(x @ W + h @ U.T + b), "transposed"),
    (lambda x, h, W, U, b: h + torch.tanh(x @ W + h @ U + b), "replaces h"),
])
def test_rnn_step_mistakes_are_named(fn, phrase):
    r = check.rnn_step(fn)
    assert r.status == "failed" and phrase in r.message


def test_rnn_step_batch_size_assumption_fails():
    r = check.rnn_step(lambda x, h, W, U, b: torch.tanh(x @ W + h @ U + b).expand(3, -1))
    assert r.status == "failed" and "(1, 5)" in r.message


# ---------- lstm_step ----------

def _lstm(order="ifgo", gate=torch.sigmoid, cand=torch.tanh, cell="ok", out="ok", swap=False):
    def step(x, h, c, W_x, W_h, b):
        blocks = dict(zip(order, (x @ W_x + h @ W_h + b).chunk(4, dim=-1)))
        i, f, o, g = gate(blocks["i"]), gate(blocks["f"]), gate(blocks["o"]), cand(blocks["g"])
        c_new = {"ok": f * c + i * g, "no_i": f * c + g, "f_on_g": f * g + i * c}[cell]
        h_new = {"ok": o * torch.tanh(c_new), "no_tanh": o * c_new, "old_c": o * torch.tanh(c)}[out]
        return (c_new, h_new) if swap else (h_new, c_new)
    return step


def test_lstm_step_reference_passes():
    assert check.lstm_step(ref_lstm_step).status == "passed"
    assert check.lstm_step(_lstm()).status == "passed"


@pytest.mark.parametrize("fn, phrase", [
    (_lstm(gate=torch.tanh, cand=torch.sigmoid), "tanh and sigmoid are swapped"),
    (_lstm(cand=torch.sigmoid), "candidate went through sigmoid"),
    (_lstm(cand=lambda z: z), "candidate has no tanh"),
    (_lstm(cell="f_on_g"), "forget and input gates are swapped"),
    (_lstm(order="figo"), "forget and input gates are swapped"),
    (_lstm(order="ifog"), "candidate and output blocks are swapped"),
    (_lstm(cell="no_i"), "forgot the input gate"),
    (_lstm(out="no_tanh"), "squash the memory with tanh"),
    (_lstm(out="old_c"), "uses the old memory c"),
    (_lstm(swap=True), "order (h_new, c_new)"),
    (lambda x, h, c, W, U, b: ref_lstm_step(x, h, c, W, U, b)[0], "one tensor"),
    (lambda x, h, c, W, U, b: ref_lstm_step(x, h, c, W, U, b, need_gates=True), "exactly the pair"),
])
def test_lstm_step_mistakes_are_named(fn, phrase):
    r = check.lstm_step(fn)
    assert r.status == "failed" and phrase in r.message, r.message


# ---------- rnn_forward ----------

def _forward(carry=True, late=False, backwards=False, stack_dim=1, last_only=False, as_list=False, zeros=False,
             in_place=False, with_h0=False, cat_dim=None, over_batch=False):
    def rnn_forward(x, h0, W_xh, W_hh, b):
        h = torch.zeros_like(h0) if zeros else h0.clone()
        hs = [h] if with_h0 else []
        steps = range(x.size(1) - 1, -1, -1) if backwards else range(x.size(0) if over_batch else x.size(1))
        for t in steps:
            h_new = torch.tanh(x[:, t] @ W_xh + (h if carry else h0) @ W_hh + b)
            if in_place:
                h.copy_(h_new)
                hs.append(h)
                continue
            hs.append(h if late else h_new)
            h = h_new
        if last_only:
            return h
        if cat_dim is not None:
            return torch.cat(hs, dim=cat_dim)
        return hs if as_list else torch.stack(hs, dim=stack_dim)
    return rnn_forward


def test_rnn_forward_reference_passes():
    assert check.rnn_forward(_forward()).status == "passed"


@pytest.mark.parametrize("fn, phrase", [
    (_forward(carry=False), "not carried over"),
    (_forward(late=True), "one step late"),
    (_forward(backwards=True), "backwards"),
    (_forward(stack_dim=0), "(T, B, H)"),
    (_forward(last_only=True), "only the last state"),
    (_forward(as_list=True), "list of states"),
    (_forward(zeros=True), "instead of h0"),
    (_forward(in_place=True), "changed h in place"),
    (_forward(with_h0=True), "includes h0"),
    (_forward(cat_dim=1), "torch.cat"),
    (_forward(cat_dim=0), "torch.cat"),
    (_forward(over_batch=True), "over x.size(0)"),
])
def test_rnn_forward_mistakes_are_named(fn, phrase):
    r = check.rnn_forward(fn)
    assert r.status == "failed" and phrase in r.message, r.message
