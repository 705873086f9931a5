"""Chapter 02's answers: rnn_step, lstm_step, rnn_forward."""
import torch
import torch.nn.functional as F

from . import right, wrong

# --- rnn_step(x (B, d_in), h (B, H), W_xh (d_in, H), W_hh (H, H), b (H,)) -> (B, H) -------------------------


@wrong("rnn_step", "sigmoid")
def rnn_step(x, h, W_xh, W_hh, b):
    return torch.sigmoid(x @ W_xh + h @ W_hh + b)


@wrong("rnn_step", "forgot the tanh")
def rnn_step(x, h, W_xh, W_hh, b):  # noqa: F811
    return x @ W_xh + h @ W_hh + b


@wrong("rnn_step", "old state h is not used")
def rnn_step(x, h, W_xh, W_hh, b):  # noqa: F811
    return torch.tanh(x @ W_xh + b)


@wrong("rnn_step", "bias")
def rnn_step(x, h, W_xh, W_hh, b):  # noqa: F811
    return torch.tanh(x @ W_xh + h @ W_hh)


@wrong("rnn_step", "transposed")
def rnn_step(x, h, W_xh, W_hh, b):  # noqa: F811
    return torch.tanh(x @ W_xh + h @ W_hh.T + b)


@wrong("rnn_step", "x goes with W_xh")
def rnn_step(x, h, W_xh, W_hh, b):  # noqa: F811
    return torch.tanh(x @ W_hh + h @ W_xh + b)


@wrong("rnn_step", "replaces h")
def rnn_step(x, h, W_xh, W_hh, b):  # noqa: F811
    return h + torch.tanh(x @ W_xh + h @ W_hh + b)


@wrong("rnn_step", "order of the product")
def rnn_step(x, h, W_xh, W_hh, b):  # noqa: F811
    return torch.tanh(W_xh @ x + W_hh @ h + b)


@wrong("rnn_step", "whole sum")
def rnn_step(x, h, W_xh, W_hh, b):  # noqa: F811
    return torch.tanh(x @ W_xh) + h @ W_hh + b


@wrong("rnn_step", "relu")
def rnn_step(x, h, W_xh, W_hh, b):  # noqa: F811
    return torch.relu(x @ W_xh + h @ W_hh + b)


@wrong("rnn_step", "first element of the batch")
def rnn_step(x, h, W_xh, W_hh, b):  # noqa: F811
    out = torch.zeros_like(h)
    out[0] = torch.tanh(x[0] @ W_xh + h[0] @ W_hh + b)
    return out


@wrong("rnn_step", "in place")
def rnn_step(x, h, W_xh, W_hh, b):  # noqa: F811
    return torch.tanh(x @ W_xh + h @ W_hh + b, out=h)


@wrong("rnn_step", "element by element")
def rnn_step(x, h, W_xh, W_hh, b):  # noqa: F811
    return torch.tanh(x * W_xh + h * W_hh + b)


@wrong("rnn_step", "bias is added after the tanh")
def rnn_step(x, h, W_xh, W_hh, b):  # noqa: F811
    return torch.tanh(x @ W_xh + h @ W_hh) + b


@right("rnn_step")
def rnn_step(x, h, W_xh, W_hh, b):  # noqa: F811
    return torch.tanh(torch.cat([x, h], dim=1) @ torch.cat([W_xh, W_hh], dim=0) + b)


@right("rnn_step")
def rnn_step(x, h, W_xh, W_hh, b):  # noqa: F811
    return torch.tanh(F.linear(x, W_xh.T, b) + torch.einsum("bh,hk->bk", h, W_hh))


@right("rnn_step")
def rnn_step(x, h, W_xh, W_hh, b):  # noqa: F811
    return 2 * torch.sigmoid(2 * torch.addmm(b, x, W_xh) + 2 * h @ W_hh) - 1


# --- lstm_step(x, h, c, W_x, W_h, b) -> (h_new, c_new) -----------------------------------------------------


def _gates(x, h, W_x, W_h, b):
    """The cell's given split, with the right activation on each block: answers whose mistake comes later."""
    z_i, z_f, z_g, z_o = (x @ W_x + h @ W_h + b).chunk(4, dim=-1)
    return torch.sigmoid(z_i), torch.sigmoid(z_f), torch.tanh(z_g), torch.sigmoid(z_o)


def _update(i, f, g, o, c):
    """The right update of c and h from gates i, f, o and candidate g: answers whose mistake came earlier."""
    c_new = f * c + i * g
    return o * torch.tanh(c_new), c_new


@wrong("lstm_step", "candidate went through sigmoid")
def lstm_step(x, h, c, W_x, W_h, b):
    z_i, z_f, z_g, z_o = (x @ W_x + h @ W_h + b).chunk(4, dim=-1)
    i, f, g, o = torch.sigmoid(z_i), torch.sigmoid(z_f), torch.sigmoid(z_g), torch.sigmoid(z_o)
    return _update(i, f, g, o, c)  # the right update, from these gates


@wrong("lstm_step", "gates (input, forget, output) use sigmoid")
def lstm_step(x, h, c, W_x, W_h, b):  # noqa: F811
    z_i, z_f, z_g, z_o = (x @ W_x + h @ W_h + b).chunk(4, dim=-1)
    i, f, g, o = torch.tanh(z_i), torch.tanh(z_f), torch.tanh(z_g), torch.tanh(z_o)
    return _update(i, f, g, o, c)  # the right update, from these gates


@wrong("lstm_step", "tanh and sigmoid are swapped")
def lstm_step(x, h, c, W_x, W_h, b):  # noqa: F811
    z_i, z_f, z_g, z_o = (x @ W_x + h @ W_h + b).chunk(4, dim=-1)
    i, f, g, o = torch.tanh(z_i), torch.tanh(z_f), torch.sigmoid(z_g), torch.tanh(z_o)
    return _update(i, f, g, o, c)  # the right update, from these gates


@wrong("lstm_step", "forget and input gates are swapped")
def lstm_step(x, h, c, W_x, W_h, b):  # noqa: F811
    i, f, g, o = _gates(x, h, W_x, W_h, b)  # the given split, and the right activations
    c_new = i * c + f * g
    return o * torch.tanh(c_new), c_new


@wrong("lstm_step", "forgot the input gate")
def lstm_step(x, h, c, W_x, W_h, b):  # noqa: F811
    i, f, g, o = _gates(x, h, W_x, W_h, b)  # the given split, and the right activations
    c_new = f * c + g
    return o * torch.tanh(c_new), c_new


@wrong("lstm_step", "forgot the forget gate")
def lstm_step(x, h, c, W_x, W_h, b):  # noqa: F811
    i, f, g, o = _gates(x, h, W_x, W_h, b)  # the given split, and the right activations
    c_new = c + i * g
    return o * torch.tanh(c_new), c_new


@wrong("lstm_step", "squash the memory with tanh")
def lstm_step(x, h, c, W_x, W_h, b):  # noqa: F811
    i, f, g, o = _gates(x, h, W_x, W_h, b)  # the given split, and the right activations
    c_new = f * c + i * g
    return o * c_new, c_new


@wrong("lstm_step", "uses the old memory c")
def lstm_step(x, h, c, W_x, W_h, b):  # noqa: F811
    i, f, g, o = _gates(x, h, W_x, W_h, b)  # the given split, and the right activations
    return o * torch.tanh(c), f * c + i * g


@wrong("lstm_step", "order (h_new, c_new)")
def lstm_step(x, h, c, W_x, W_h, b):  # noqa: F811
    i, f, g, o = _gates(x, h, W_x, W_h, b)  # the given split, and the right activations
    c_new = f * c + i * g
    return c_new, o * torch.tanh(c_new)


@wrong("lstm_step", "candidate and output blocks are swapped")
def lstm_step(x, h, c, W_x, W_h, b):  # noqa: F811
    z_i, z_f, z_g, z_o = (x @ W_x + h @ W_h + b).chunk(4, dim=-1)
    i, f, o, g = torch.sigmoid(z_i), torch.sigmoid(z_f), torch.sigmoid(z_g), torch.tanh(z_o)
    return _update(i, f, g, o, c)  # the right update, from these gates


@wrong("lstm_step", "entry by entry")
def lstm_step(x, h, c, W_x, W_h, b):  # noqa: F811
    i, f, g, o = _gates(x, h, W_x, W_h, b)  # the given split, and the right activations
    c_new = f @ c + i @ g
    return o @ torch.tanh(c_new), c_new


@wrong("lstm_step", "in place")
def lstm_step(x, h, c, W_x, W_h, b):  # noqa: F811
    i, f, g, o = _gates(x, h, W_x, W_h, b)  # the given split, and the right activations
    c *= f
    c += i * g
    return o * torch.tanh(c), c


@wrong("lstm_step", "order")
def lstm_step(x, h, c, W_x, W_h, b):  # noqa: F811
    z_i, z_f, z_g, z_o = (x @ W_x + h @ W_h + b).chunk(4, dim=-1)
    i, f, g, o = torch.sigmoid(z_o), torch.sigmoid(z_f), torch.tanh(z_g), torch.sigmoid(z_i)
    return _update(i, f, g, o, c)  # the right update, from these gates


@wrong("lstm_step", "one tensor")
def lstm_step(x, h, c, W_x, W_h, b):  # noqa: F811
    i, f, g, o = _gates(x, h, W_x, W_h, b)  # the given split, and the right activations
    return o * torch.tanh(f * c + i * g)


@wrong("lstm_step", "forgot the output gate")
def lstm_step(x, h, c, W_x, W_h, b):  # noqa: F811
    z_i, z_f, z_g, z_o = (x @ W_x + h @ W_h + b).chunk(4, dim=-1)
    i, f, g = torch.sigmoid(z_i), torch.sigmoid(z_f), torch.tanh(z_g)
    c_new = f * c + i * g
    return torch.tanh(c_new), c_new


@wrong("lstm_step", "squashed the new memory")
def lstm_step(x, h, c, W_x, W_h, b):  # noqa: F811
    i, f, g, o = _gates(x, h, W_x, W_h, b)  # the given split, and the right activations
    c_new = torch.tanh(f * c + i * g)
    return o * torch.tanh(c_new), c_new


@wrong("lstm_step", "old memory c, unchanged")
def lstm_step(x, h, c, W_x, W_h, b):  # noqa: F811
    i, f, g, o = _gates(x, h, W_x, W_h, b)  # the given split, and the right activations
    h_new = o * torch.tanh(f * c + i * g)
    return h_new, c


@wrong("lstm_step", "keeps the part the forget gate drops")
def lstm_step(x, h, c, W_x, W_h, b):  # noqa: F811 (the forget gate read as "how much to forget")
    i, f, g, o = _gates(x, h, W_x, W_h, b)
    c_new = (1 - f) * c + i * g
    return o * torch.tanh(c_new), c_new


@right("lstm_step")
def lstm_step(x, h, c, W_x, W_h, b):  # noqa: F811
    z_i, z_f, z_g, z_o = (x @ W_x + h @ W_h + b).chunk(4, dim=-1)
    sig = lambda z: 1 / (1 + torch.exp(-z))  # noqa: E731
    c_new = torch.addcmul(sig(z_f) * c, sig(z_i), torch.tanh(z_g))
    return sig(z_o) * torch.tanh(c_new), c_new


@right("lstm_step")
def lstm_step(x, h, c, W_x, W_h, b):  # noqa: F811
    H = h.shape[-1]
    z = torch.addmm(b, x, W_x) + h @ W_h
    i, f, o = (torch.sigmoid(z[:, k * H:(k + 1) * H]) for k in (0, 1, 3))
    c_new = f * c + i * (2 * torch.sigmoid(2 * z[:, 2 * H:3 * H]) - 1)
    return o * torch.tanh(c_new), c_new


@right("lstm_step")
def lstm_step(x, h, c, W_x, W_h, b):  # noqa: F811
    z_i, z_f, z_g, z_o = torch.split(torch.cat([x, h], 1) @ torch.cat([W_x, W_h]) + b, h.shape[1], dim=1)
    c_new = F.sigmoid(z_f) * c + F.sigmoid(z_i) * F.tanh(z_g)
    return (F.sigmoid(z_o) * F.tanh(c_new), c_new)


# --- rnn_forward(x (B, T, d_in), h0 (B, H), W_xh, W_hh, b) -> hs (B, T, H) ----------------------------------


@wrong("rnn_forward", "not carried over")
def rnn_forward(x, h0, W_xh, W_hh, b):
    return torch.stack([torch.tanh(x[:, t] @ W_xh + h0 @ W_hh + b) for t in range(x.size(1))], dim=1)


@wrong("rnn_forward", "one step late")
def rnn_forward(x, h0, W_xh, W_hh, b):  # noqa: F811
    h, hs = h0, []
    for t in range(x.size(1)):
        hs.append(h)
        h = torch.tanh(x[:, t] @ W_xh + h @ W_hh + b)
    return torch.stack(hs, dim=1)


@wrong("rnn_forward", "(T, B, H)")
def rnn_forward(x, h0, W_xh, W_hh, b):  # noqa: F811
    h, hs = h0, []
    for t in range(x.size(1)):
        h = torch.tanh(x[:, t] @ W_xh + h @ W_hh + b)
        hs.append(h)
    return torch.stack(hs)


@wrong("rnn_forward", "only the last state")
def rnn_forward(x, h0, W_xh, W_hh, b):  # noqa: F811
    h = h0
    for t in range(x.size(1)):
        h = torch.tanh(x[:, t] @ W_xh + h @ W_hh + b)
    return h


@wrong("rnn_forward", "instead of h0")
def rnn_forward(x, h0, W_xh, W_hh, b):  # noqa: F811
    h, hs = torch.zeros_like(h0), []
    for t in range(x.size(1)):
        h = torch.tanh(x[:, t] @ W_xh + h @ W_hh + b)
        hs.append(h)
    return torch.stack(hs, dim=1)


@wrong("rnn_forward", "made on the CPU")
def rnn_forward(x, h0, W_xh, W_hh, b):  # noqa: F811 (the states' tensor made without device=)
    B, T, _ = x.shape
    hs, h = torch.zeros(B, T, h0.size(1)), h0
    for t in range(T):
        h = torch.tanh(x[:, t] @ W_xh + h @ W_hh + b)
        hs[:, t] = h
    return hs


@wrong("rnn_forward", "in place")
def rnn_forward(x, h0, W_xh, W_hh, b):  # noqa: F811
    h, hs = h0, []
    for t in range(x.size(1)):
        h[:] = torch.tanh(x[:, t] @ W_xh + h @ W_hh + b)
        hs.append(h.clone())
    return torch.stack(hs, dim=1)


@wrong("rnn_forward", "includes h0")
def rnn_forward(x, h0, W_xh, W_hh, b):  # noqa: F811
    hs = [h0]
    for t in range(x.size(1)):
        hs.append(torch.tanh(x[:, t] @ W_xh + hs[-1] @ W_hh + b))
    return torch.stack(hs, dim=1)


@wrong("rnn_forward", "torch.cat")
def rnn_forward(x, h0, W_xh, W_hh, b):  # noqa: F811
    h, hs = h0, []
    for t in range(x.size(1)):
        h = torch.tanh(x[:, t] @ W_xh + h @ W_hh + b)
        hs.append(h)
    return torch.cat(hs, dim=1)


@wrong("rnn_forward", "first element of the batch")
def rnn_forward(x, h0, W_xh, W_hh, b):  # noqa: F811
    h, hs = h0, []
    for t in range(x.size(1)):
        h = torch.tanh(x[0, t] @ W_xh + h @ W_hh + b)
        hs.append(h)
    return torch.stack(hs, dim=1)


@wrong("rnn_forward", "the time axis is dim 1")
def rnn_forward(x, h0, W_xh, W_hh, b):  # noqa: F811
    h, hs = h0, []
    for t in range(x.size(1)):
        h = torch.tanh(x[t] @ W_xh + h @ W_hh + b)
        hs.append(h)
    return torch.stack(hs, dim=1)


@wrong("rnn_forward", "forgot the tanh")
def rnn_forward(x, h0, W_xh, W_hh, b):  # noqa: F811
    h, hs = h0, []
    for t in range(x.size(1)):
        h = x[:, t] @ W_xh + h @ W_hh + b
        hs.append(h)
    return torch.stack(hs, dim=1)


@wrong("rnn_forward", "6 instead of")
def rnn_forward(x, h0, W_xh, W_hh, b):  # noqa: F811
    h, hs = h0, []
    for t in range(6):
        h = torch.tanh(x[:, t] @ W_xh + h @ W_hh + b)
        hs.append(h)
    return torch.stack(hs, dim=1)


@wrong("rnn_forward", "squashed")
def rnn_forward(x, h0, W_xh, W_hh, b):  # noqa: F811
    z, hs = h0, []
    for t in range(x.size(1)):
        z = x[:, t] @ W_xh + z @ W_hh + b
        hs.append(torch.tanh(z))
    return torch.stack(hs, dim=1)


@wrong("rnn_forward", "transposed")
def rnn_forward(x, h0, W_xh, W_hh, b):  # noqa: F811
    h, hs = h0, []
    for t in range(x.size(1)):
        h = torch.tanh(x[:, t] @ W_xh + h @ W_hh + b)
        hs.append(h)
    return torch.stack(hs, dim=-1)


@wrong("rnn_forward", "backwards")
def rnn_forward(x, h0, W_xh, W_hh, b):  # noqa: F811
    h, hs = h0, []
    for t in reversed(range(x.size(1))):
        h = torch.tanh(x[:, t] @ W_xh + h @ W_hh + b)
        hs.append(h)
    return torch.stack(hs[::-1], dim=1)


@wrong("rnn_forward", "T - 1 states")
def rnn_forward(x, h0, W_xh, W_hh, b):  # noqa: F811
    h, hs = h0, []
    for t in range(x.size(1) - 1):
        h = torch.tanh(x[:, t] @ W_xh + h @ W_hh + b)
        hs.append(h)
    return torch.stack(hs, dim=1)


@wrong("rnn_forward", "previous position")
def rnn_forward(x, h0, W_xh, W_hh, b):  # noqa: F811
    h, hs = h0, []
    for t in range(x.size(1)):
        h = torch.tanh(x[:, t - 1] @ W_xh + h @ W_hh + b)
        hs.append(h)
    return torch.stack(hs, dim=1)


@wrong("rnn_forward", "skips position 0")
def rnn_forward(x, h0, W_xh, W_hh, b):  # noqa: F811
    hs = [h0]
    for t in range(1, x.size(1)):
        hs.append(torch.tanh(x[:, t] @ W_xh + hs[-1] @ W_hh + b))
    return torch.stack(hs, dim=1)


@right("rnn_forward")
def rnn_forward(x, h0, W_xh, W_hh, b):  # noqa: F811
    B, T, _ = x.shape
    hs = x.new_zeros(B, T, h0.shape[1])
    h = h0
    for t in range(T):
        h = torch.tanh(x[:, t] @ W_xh + h @ W_hh + b)
        hs[:, t] = h
    return hs


@right("rnn_forward")
def rnn_forward(x, h0, W_xh, W_hh, b):  # noqa: F811
    xw = x @ W_xh + b  # every step's input part at once
    hs = [h0]
    for xt in xw.unbind(1):
        hs.append(torch.tanh(xt + hs[-1] @ W_hh))
    return torch.stack(hs[1:], dim=1)


@right("rnn_forward")
def rnn_forward(x, h0, W_xh, W_hh, b):  # noqa: F811
    h, hs = h0, []
    for t in range(x.shape[1]):
        h = torch.tanh(torch.einsum("bd,dh->bh", x[:, t, :], W_xh) + h @ W_hh + b)
        hs.append(h.unsqueeze(1))
    return torch.cat(hs, dim=1)



@wrong("rnn_step", "added twice")
def rnn_step(x, h, W_xh, W_hh, b):  # noqa: F811
    return torch.tanh(x @ W_xh + b + h @ W_hh + b)


@wrong("lstm_step", "output gate went through tanh")
def lstm_step(x, h, c, W_x, W_h, b):  # noqa: F811
    z_i, z_f, z_g, z_o = (x @ W_x + h @ W_h + b).chunk(4, dim=-1)
    i, f, g, o = torch.sigmoid(z_i), torch.sigmoid(z_f), torch.tanh(z_g), torch.tanh(z_o)
    c_new = f * c + i * g
    return o * torch.tanh(c_new), c_new


@wrong("rnn_forward", "gradient with respect to `x` is not")
def rnn_forward(x, h0, W_xh, W_hh, b):  # noqa: F811 (the state detached at every step: no backpropagation through time)
    h, hs = h0, []
    for t in range(x.size(1)):
        h = torch.tanh(x[:, t] @ W_xh + h.detach() @ W_hh + b)
        hs.append(h)
    return torch.stack(hs, dim=1)
