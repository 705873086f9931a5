"""Exercise checks for chapter 02: RNN and LSTM cells by hand."""
import itertools

import torch

from .. import rnn as ref
from ._core import Fail, exercise
from ._diagnose import product_error

__all__ = ["rnn_step", "lstm_step", "rnn_forward"]


def _randn(*shape, seed, scale=1.0):
    return scale * torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


def _rnn_weights(d_in, H, seed):
    """Non-symmetric weights, so a transposed W_hh gives a different answer."""
    return (_randn(d_in, H, seed=seed, scale=0.6), _randn(H, H, seed=seed + 1, scale=0.6),
            _randn(H, seed=seed + 2, scale=0.3))


def _step_mistakes(x, h, W_xh, W_hh, b):
    """{message: the new state} for the usual ways one RNN step goes wrong (rnn_step, and each step of
    rnn_forward)."""
    z = x @ W_xh + h @ W_hh + b
    return {
        "you used sigmoid where the RNN uses tanh: the state must lie in [-1, 1], centred on 0":
            torch.sigmoid(z),
        "you used relu where the RNN uses tanh: the state must lie in [-1, 1], negative values included":
            torch.relu(z),
        "you forgot the tanh: without it the state can grow without bound": z,
        "the old state h is not used: the memory must be carried over (through W_hh)":
            torch.tanh(x @ W_xh + b),
        "the new character x is not used (it comes in through W_xh)": torch.tanh(h @ W_hh + b),
        "you forgot the bias b": torch.tanh(x @ W_xh + h @ W_hh),
        "the bias b is added twice: it appears once in the sum": torch.tanh(z + b),
        "W_hh is used transposed: with row vectors the old state is multiplied by W_hh as given, not by W_hh.T":
            torch.tanh(x @ W_xh + h @ W_hh.T + b),
        "the tanh squashes only part of the sum: it must squash the whole sum (input, old state and bias "
        "together)": torch.tanh(x @ W_xh) + h @ W_hh + b,
        "the bias is added after the tanh: it belongs inside, with the two products": torch.tanh(z - b) + b,
        "you added the old state to the result: the new state replaces h, it is tanh(...) alone":
            h + torch.tanh(z)}


def _step_errors(B, d_in, H):
    """{error pattern: message} for the products of one RNN step written the wrong way."""
    swapped = "x is multiplied by W_hh: x goes with W_xh (d_in, H), the old state h with W_hh (H, H)"
    order = ("the order of the product is the wrong way round: x (B, d_in) and h (B, H) are batches of rows, "
             "and each row is multiplied by a weight matrix on its right")
    return {product_error(B, d_in, H, H): swapped, product_error(B, H, d_in, H): swapped,
            product_error(d_in, H, B, d_in): order, product_error(H, H, B, H): order}


@exercise
def rnn_step(c):
    """Checks rnn_step(x, h, W_xh, W_hh, b) -> h_new. Reference: course_lib.rnn.rnn_step."""
    c.reference = ref.rnn_step
    B, d_in, H = 3, 4, 5
    x, h = _randn(B, d_in, seed=1), _randn(B, H, seed=2, scale=0.8)
    W_xh, W_hh, b = _rnn_weights(d_in, H, seed=3)
    out = c.call(x, h, W_xh, W_hh, b, errors=_step_errors(B, d_in, H))
    out = c.tensor(out, shape=(B, H), what="your new state h")
    c.close(out, ref.rnn_step(x, h, W_xh, W_hh, b), what="your new state h", axes=("batch", "unit"),
            mistakes=_step_mistakes(x, h, W_xh, W_hh, b),
            hint="the new state mixes the new input (through W_xh) and the old state (through W_hh), plus b, "
                 "squashed by tanh")
    # the first step of a sequence: an empty memory and a single example
    x1, h1 = _randn(1, d_in, seed=4, scale=3.0), torch.zeros(1, H)
    out = c.tensor(c.call(x1, h1, W_xh, W_hh, b), shape=(1, H), what="your new state h (batch of 1)")
    c.close(out, ref.rnn_step(x1, h1, W_xh, W_hh, b), what="your new state h (batch of 1, h = 0)",
            hint="do not assume a batch size: use the shapes of x and h as given")


def _lstm_variant(x, h, c, W_x, W_h, b, order="ifgo", gate_fn=torch.sigmoid, cand_fn=torch.tanh,
                  cell="f*c+i*g", out="o*tanh(c_new)", out_gate=None):
    """An LSTM step with one deliberate mistake, for naming what a student did."""
    blocks = dict(zip(order, (x @ W_x + h @ W_h + b).chunk(4, dim=-1)))
    i, f, o, g = gate_fn(blocks["i"]), gate_fn(blocks["f"]), (out_gate or gate_fn)(blocks["o"]), cand_fn(blocks["g"])
    c_new = {"f*c+i*g": f * c + i * g, "f*c+g": f * c + g, "c+i*g": c + i * g,
             "tanh(f*c+i*g)": torch.tanh(f * c + i * g), "(1-f)*c+i*g": (1 - f) * c + i * g}[cell]
    h_new = {"o*tanh(c_new)": o * torch.tanh(c_new), "o*c_new": o * c_new, "tanh(c_new)": torch.tanh(c_new),
             "o*tanh(c)": o * torch.tanh(c), "o*sigmoid(c_new)": o * torch.sigmoid(c_new)}[out]
    return h_new, c_new


def _pair(c, out, B, H):
    if isinstance(out, torch.Tensor):
        raise Fail("you returned one tensor: return the pair (h_new, c_new), e.g. `return h_new, c_new`")
    if out is None:
        raise Fail("your result is None — did you forget to `return h_new, c_new`?")
    if not isinstance(out, (tuple, list)) or len(out) != 2:
        n = f" of length {len(out)}" if isinstance(out, (tuple, list)) else ""
        raise Fail(f"your result is a {type(out).__name__}{n}: return exactly the pair (h_new, c_new)")
    return (c.tensor(out[0], shape=(B, H), what="your h_new"),
            c.tensor(out[1], shape=(B, H), what="your c_new"))


@exercise
def lstm_step(c):
    """Checks lstm_step(x, h, c, W_x, W_h, b) -> (h_new, c_new). Reference: course_lib.rnn.lstm_step
    (gate blocks in the order input, forget, candidate, output)."""
    c.reference = ref.lstm_step
    B, d_in, H = 3, 4, 5
    args = (_randn(B, d_in, seed=11), _randn(B, H, seed=12, scale=0.8), _randn(B, H, seed=13, scale=1.5),
            _randn(d_in, 4 * H, seed=14, scale=0.7), _randn(H, 4 * H, seed=15, scale=0.7),
            _randn(4 * H, seed=16, scale=0.5))
    h_ref, c_ref = ref.lstm_step(*args)
    h_out, c_out = _pair(c, c.call(*args, errors={product_error(B, H, B, H): (
        "⊙ multiplies entry by entry: gates and states are combined with *, not with @ (a matrix product)")}), B, H)
    variants = {
        "tanh and sigmoid are swapped: the gates (input, forget, output) use sigmoid so they lie in "
        "[0, 1]; the candidate uses tanh": dict(gate_fn=torch.tanh, cand_fn=torch.sigmoid),
        "the candidate went through sigmoid: it uses tanh, so what is written can be negative":
            dict(cand_fn=torch.sigmoid),
        "the candidate has no tanh: it goes through tanh, so that what is written stays in [-1, 1]":
            dict(cand_fn=lambda z: z),
        "the forget and input gates are swapped: the forget gate multiplies the old memory c, the input "
        "gate the new candidate (blocks are in the order input, forget, candidate, output)": dict(order="figo"),
        "the candidate and output blocks are swapped: the order is input, forget, candidate, output":
            dict(order="ifog"),
        "the gates (input, forget, output) use sigmoid, so that they lie in [0, 1]: yours went through tanh":
            dict(gate_fn=torch.tanh),
        "the output gate went through tanh: like the other gates it is a sigmoid, a share in [0, 1] of the "
        "squashed memory": dict(out_gate=torch.tanh),
        "you forgot the input gate: the candidate passes through it before it is written into the memory":
            dict(cell="f*c+g"),
        "you forgot the forget gate: the old memory passes through it, so that the cell can forget":
            dict(cell="c+i*g"),
        "(1 − f) keeps the part the forget gate drops: the forget gate is the share of the old memory that is "
        "kept (1 = keep everything), so an LSTM keeps f * c of it": dict(cell="(1-f)*c+i*g"),
        "h_new = o * c_new: squash the memory with tanh first, then let the output gate through": dict(out="o*c_new"),
        "you squashed the new memory with tanh: c is updated without squashing (it may grow past 1), only "
        "what h shows of it is squashed": dict(cell="tanh(f*c+i*g)"),
        "h_new squashes the memory with sigmoid: it uses tanh, so that h can be negative":
            dict(out="o*sigmoid(c_new)"),
        "you forgot the output gate: it decides how much of the squashed memory is shown as h_new":
            dict(out="tanh(c_new)"),
        "h_new uses the old memory c: it shows the new memory, c_new, so compute that first": dict(out="o*tanh(c)"),
    }
    named_orders = {kw.get("order") for kw in variants.values()}
    gate = dict(i="input gate", f="forget gate", g="candidate", o="output gate")
    for order in map("".join, itertools.permutations("ifgo")):
        if order not in named_orders and order != "ifgo":
            misread = ", ".join(f"the {gate[k]} reads the {gate[r].split()[0]} block"
                                for k, r in zip(order, "ifgo") if k != r)
            variants[f"the blocks go to the wrong gates ({misread}): the split gives them in the order input, "
                     "forget, candidate, output"] = dict(order=order)
    wrong = {msg: _lstm_variant(*args, **kw) for msg, kw in variants.items()}
    if torch.allclose(h_out, c_ref, atol=1e-5) and torch.allclose(c_out, h_ref, atol=1e-5):
        raise Fail("you returned (c_new, h_new): return them in the order (h_new, c_new)")
    kept = {"your c_new is the old memory c, unchanged: return the updated memory": (h_ref, args[2]),
            "your h_new is the old state h, unchanged: return the new one": (args[1], c_ref)}
    wrong.update(kept)
    c.close(c_out, c_ref, {m: w[1] for m, w in wrong.items()}, what="your c_new",
            hint="the new memory keeps part of the old c (forget gate) and adds part of the candidate (input "
                 "gate); the gates go through sigmoid, the candidate through tanh")
    c.close(h_out, h_ref, {m: w[0] for m, w in wrong.items()}, what="your h_new",
            hint="what the cell shows is its new memory squashed to [-1, 1], let through by the output gate")
    # a saturated input: the memory may grow past 1, h must stay in [-1, 1]
    big = (args[0] * 10,) + args[1:]
    h_out, c_out = _pair(c, c.call(*big), B, H)
    h_ref, c_ref = ref.lstm_step(*big)
    c.close(c_out, c_ref, what="your c_new (large inputs)")
    c.close(h_out, h_ref, what="your h_new (large inputs)")


def _rnn_forward(x, h, W_xh, W_hh, b):
    """The states after every step, (B, T, H), differentiable: the reference for the gradients."""
    hs = []
    for t in range(x.size(1)):
        h = ref.rnn_step(x[:, t], h, W_xh, W_hh, b)
        hs.append(h)
    return torch.stack(hs, dim=1)


@exercise
def rnn_forward(c):
    """Checks rnn_forward(x, h0, W_xh, W_hh, b) -> hs (B, T, H), the state after every step.
    Reference: course_lib.rnn.run with an RNNCell holding these weights."""
    c.reference = _rnn_forward
    B, T, d_in, H = 2, 6, 3, 4
    x, h0 = _randn(B, T, d_in, seed=21), _randn(B, H, seed=22, scale=0.8)
    W_xh, W_hh, b = _rnn_weights(d_in, H, seed=23)

    def reference(x, h0):
        cell = ref.RNNCell(d_in, H)
        with torch.no_grad():
            cell.W_xh.copy_(W_xh), cell.W_hh.copy_(W_hh), cell.b.copy_(b)
            return ref.run(cell, x, h0)[0]

    expected = reference(x, h0)
    picks_batch = "x[t] picks sequence t of the batch, not step t: the time axis is dim 1 (x[:, t])"
    out = c.call(x, h0, W_xh, W_hh, b, errors={
        rf"size of tensor a \(({T}|{B})\) must match the size of tensor b \(({B}|{T})\) at non-singleton "
        r"dimension 0": picks_batch,
        rf"index \d+ is out of bounds for dimension 0 with size {B}": picks_batch,
        **_step_errors(B, d_in, H)})
    if isinstance(out, (tuple, list)) and len(out) == T and all(isinstance(o, torch.Tensor) for o in out):
        raise Fail("you returned a list of states: join them into one tensor with torch.stack, the new time "
                   "axis at dim 1")
    if isinstance(out, torch.Tensor) and tuple(out.shape) == (B, H):
        raise Fail("you returned only the last state: keep every step's h and stack them into (B, T, H)")
    if isinstance(out, torch.Tensor) and tuple(out.shape) == (T, B, H):
        raise Fail("your states are stacked as (T, B, H): stack along dim=1 to get (B, T, H)")
    if isinstance(out, torch.Tensor) and tuple(out.shape) == (B, T - 1, H):
        raise Fail("your hs has T - 1 states: the loop stops one step early; it must read every position, "
                   "the last one included")
    if isinstance(out, torch.Tensor) and tuple(out.shape) == (B, T + 1, H):
        raise Fail("your hs has T + 1 states: it includes h0; keep only the states after each step, "
                   "hs[:, t] = the state after reading x[:, t]")
    if isinstance(out, torch.Tensor) and tuple(out.shape) in ((B, T * H), (B * T, H), (T * B, H)):
        raise Fail(f"your hs has shape {tuple(out.shape)}: torch.cat joins the states along an existing axis; "
                   "torch.stack makes a new one, the time axis (dim 1)")
    if isinstance(out, torch.Tensor) and tuple(out.shape) == (B, B, H):
        raise Fail("your loop ran B times, over x.size(0), the batch axis: the time axis is dim 1, loop over "
                   "its size")
    out = c.tensor(out, shape=(B, T, H), what="your hs tensor")

    def loop(step, h, carry=None):
        """The states of a loop with `step` (xt, h) -> state; carry(xt, h) -> what the next step starts from."""
        hs = []
        for t in range(x.size(1)):
            hs.append(step(x[:, t], h))
            h = carry(x[:, t], h) if carry else hs[-1]
        return torch.stack(hs, dim=1)

    step = lambda xt, h: torch.tanh(xt @ W_xh + h @ W_hh + b)  # noqa: E731
    reversed_run = reference(x.flip(1), h0)
    backwards = "you read the sequence backwards: step t must read x[:, t], from t = 0 to T - 1"
    mistakes = {
        "every stored state is the last one: you changed h in place (h.copy_, h[:] = or +=), so the list "
        "holds the same tensor T times; assign a new tensor to h at each step instead":
            expected[:, -1:].expand(B, T, H),
        "the state is not carried over: each step must start from the previous step's h, not from h0":
            loop(step, h0, carry=lambda xt, h: h0),
        "your states are one step late: store h after updating it (hs[:, t] is the state after x[:, t])":
            loop(lambda xt, h: h, h0, carry=step),
        backwards: reversed_run,
        backwards + " (and you stored the states in reverse)": reversed_run.flip(1),
        "the states are stored in reverse order: hs[:, t] is the state after reading x[:, t]": expected.flip(1),
        "each step reads the previous position (x[:, t - 1], so step 0 reads the last one): step t reads "
        "position t": reference(x.roll(1, dims=1), h0),
        "the loop skips position 0 and stores h0 in its place: every position is read, from t = 0":
            torch.cat([h0[:, None], reference(x[:, 1:], h0)], dim=1),
        "you started from zeros instead of h0: the first step must use the h0 you were given":
            reference(x, torch.zeros_like(h0)),
        "the state handed on to the next step is not squashed: the next step must start from the state after "
        "tanh, the one you store": loop(step, h0, carry=lambda xt, h: xt @ W_xh + h @ W_hh + b),
    }
    for message, _ in _step_mistakes(x[:, 0], h0, W_xh, W_hh, b).items():
        mistakes["in each step: " + message] = loop(
            lambda xt, h, m=message: _step_mistakes(xt, h, W_xh, W_hh, b)[m], h0)
    c.close(out, expected, what="your hs tensor", mistakes=mistakes, axes=("batch", "step", "unit"),
            hint="start from h0, apply one RNN step per position t (x[:, t] is the input at step t), keep every "
                 "state and stack them along dim 1")
    for B2, T2, h_scale, seed in [(3, 9, 0.8, 25), (1, 1, 0.0, 24)]:  # other sizes; one step from h = 0
        x2, h2 = _randn(B2, T2, d_in, seed=seed), _randn(B2, H, seed=seed + 1, scale=h_scale)
        what = f"your hs (B = {B2}, T = {T2})"
        out = c.tensor(c.call(x2, h2, W_xh, W_hh, b), shape=(B2, T2, H), what=what)
        c.close(out, reference(x2, h2), what=what, axes=("batch", "step", "unit"))
