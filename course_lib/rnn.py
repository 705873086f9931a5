"""Recurrent networks written out by hand: the memory passed down from step to step.

An RNN reads a sequence one character at a time and carries a hidden state h (the "heirloom",
传家宝) from each step to the next. An LSTM adds a second memory, the cell state c, guarded by
gates (the "locks", 上锁) that decide what to forget, what to write and what to show.

Shapes: batch B, sequence length T, input width d_in, hidden width H.
Weights are stored the way the formulas read, x @ W: W_xh (d_in, H), W_hh (H, H).
The LSTM packs its four gates side by side in one (.., 4H) matrix, in PyTorch's order:
input, forget, candidate, output.
"""
import math

import torch
import torch.nn as nn

GATES = ("input", "forget", "candidate", "output")


def rnn_step(x, h, W_xh, W_hh, b):
    """One RNN step. x: (B, d_in), h: (B, H), W_xh: (d_in, H), W_hh: (H, H), b: (H,) -> new h (B, H).

    h_new = tanh(x W_xh + h W_hh + b): the new memory mixes the new character with the old memory.
    """
    return torch.tanh(x @ W_xh + h @ W_hh + b)


def lstm_step(x, h, c, W_x, W_h, b, need_gates=False):
    """One LSTM step. x: (B, d_in), h and c: (B, H), W_x: (d_in, 4H), W_h: (H, 4H), b: (4H,).

    Returns (h_new, c_new), or (h_new, c_new, gates) with gates a dict name -> (B, H) when need_gates.
      input     i = sigmoid(.)  how much of the candidate to write      (0 = locked, 1 = open)
      forget    f = sigmoid(.)  how much of the old memory c to keep
      candidate g = tanh(.)     what could be written, in [-1, 1]
      output    o = sigmoid(.)  how much of the memory to show as h
      c_new = f * c + i * g;  h_new = o * tanh(c_new)
    """
    z = x @ W_x + h @ W_h + b
    z_i, z_f, z_g, z_o = z.chunk(4, dim=-1)
    i, f, g, o = torch.sigmoid(z_i), torch.sigmoid(z_f), torch.tanh(z_g), torch.sigmoid(z_o)
    c_new = f * c + i * g
    h_new = o * torch.tanh(c_new)
    if need_gates:
        return h_new, c_new, dict(zip(GATES, (i, f, g, o)))
    return h_new, c_new


def _uniform_(params, hidden_size):
    """PyTorch's initialisation for recurrent layers: U(-1/sqrt(H), 1/sqrt(H))."""
    bound = 1.0 / math.sqrt(hidden_size)
    for p in params:
        nn.init.uniform_(p, -bound, bound)


def _check_torch_layer(layer, kind):
    if layer.num_layers != 1 or layer.bidirectional:
        raise ValueError(f"from_torch copies a single-layer, one-directional nn.{kind} "
                         f"(got num_layers={layer.num_layers}, bidirectional={layer.bidirectional})")
    if not layer.bias:
        raise ValueError(f"from_torch needs an nn.{kind} with bias=True")


class RNNCell(nn.Module):
    """A plain (Elman) RNN cell: forward(x (B, d_in), h (B, H)) -> h_new (B, H)."""

    def __init__(self, d_in, d_hidden):
        super().__init__()
        self.d_in, self.d_hidden = d_in, d_hidden
        self.W_xh = nn.Parameter(torch.empty(d_in, d_hidden))
        self.W_hh = nn.Parameter(torch.empty(d_hidden, d_hidden))
        self.b = nn.Parameter(torch.empty(d_hidden))
        _uniform_(self.parameters(), d_hidden)

    def init_state(self, batch_size, like):
        """The empty heirloom: zeros (B, H) on the device and dtype of `like`."""
        return like.new_zeros(batch_size, self.d_hidden)

    def forward(self, x, h):
        return rnn_step(x, h, self.W_xh, self.W_hh, self.b)

    @classmethod
    def from_torch(cls, rnn):
        """A cell with the weights of a single-layer tanh nn.RNN (PyTorch stores W transposed, two biases)."""
        _check_torch_layer(rnn, "RNN")
        if rnn.nonlinearity != "tanh":
            raise ValueError(f"RNNCell uses tanh; this nn.RNN uses {rnn.nonlinearity}")
        cell = cls(rnn.input_size, rnn.hidden_size).to(rnn.weight_hh_l0)
        with torch.no_grad():
            cell.W_xh.copy_(rnn.weight_ih_l0.T)
            cell.W_hh.copy_(rnn.weight_hh_l0.T)
            cell.b.copy_(rnn.bias_ih_l0 + rnn.bias_hh_l0)
        return cell


class LSTMCell(nn.Module):
    """An LSTM cell: forward(x (B, d_in), (h, c) each (B, H), need_gates=False) -> (h_new, c_new)
    [, gates: dict name -> (B, H)]."""

    def __init__(self, d_in, d_hidden):
        super().__init__()
        self.d_in, self.d_hidden = d_in, d_hidden
        self.W_x = nn.Parameter(torch.empty(d_in, 4 * d_hidden))
        self.W_h = nn.Parameter(torch.empty(d_hidden, 4 * d_hidden))
        self.b = nn.Parameter(torch.empty(4 * d_hidden))
        _uniform_(self.parameters(), d_hidden)

    def init_state(self, batch_size, like):
        """Empty memories: (h, c), zeros (B, H) each."""
        zeros = like.new_zeros(batch_size, self.d_hidden)
        return zeros, zeros.clone()

    def forward(self, x, state, need_gates=False):
        h, c = state
        out = lstm_step(x, h, c, self.W_x, self.W_h, self.b, need_gates=need_gates)
        return ((out[0], out[1]), out[2]) if need_gates else out

    @classmethod
    def from_torch(cls, lstm):
        """A cell with the weights of a single-layer nn.LSTM (same gate order i, f, g, o)."""
        _check_torch_layer(lstm, "LSTM")
        if lstm.proj_size:
            raise ValueError("from_torch does not handle nn.LSTM with proj_size > 0")
        cell = cls(lstm.input_size, lstm.hidden_size).to(lstm.weight_hh_l0)
        with torch.no_grad():
            cell.W_x.copy_(lstm.weight_ih_l0.T)
            cell.W_h.copy_(lstm.weight_hh_l0.T)
            cell.b.copy_(lstm.bias_ih_l0 + lstm.bias_hh_l0)
        return cell


def run(cell, x, state=None, need_gates=False):
    """Run a cell over a sequence, one step at a time (the serial loop).

    x: (B, T, d_in); state: the initial state (h, or (h, c) for an LSTM; default zeros).
    Returns (hs, state, gates):
      hs     (B, T, H): the hidden state after each step
      state  the final state, in the form the cell takes it (so a later call can continue)
      gates  None, or for an LSTM with need_gates=True a dict of (B, T, H) tensors:
             "input", "forget", "candidate", "output" and "cell" (the memory c after each step)
    """
    if x.dim() != 3:
        raise ValueError(f"run expects x of shape (B, T, d_in), got {tuple(x.shape)}")
    if x.size(-1) != cell.d_in:
        raise ValueError(f"the cell reads vectors of width {cell.d_in}, x has width {x.size(-1)}")
    if x.size(1) == 0:
        raise ValueError("run needs at least one step (T >= 1)")
    is_lstm = isinstance(cell, LSTMCell)
    if need_gates and not is_lstm:
        raise ValueError("need_gates=True is for an LSTMCell: a plain RNN has no gates")
    if state is None:
        state = cell.init_state(x.size(0), x)
    hs, gates = [], {name: [] for name in GATES + ("cell",)}
    for t in range(x.size(1)):
        if need_gates:
            state, g = cell(x[:, t], state, need_gates=True)
            for name in GATES:
                gates[name].append(g[name])
            gates["cell"].append(state[1])
        else:
            state = cell(x[:, t], state)
        hs.append(state[0] if is_lstm else state)
    hs = torch.stack(hs, dim=1)
    if not need_gates:
        return hs, state, None
    return hs, state, {name: torch.stack(v, dim=1) for name, v in gates.items()}
