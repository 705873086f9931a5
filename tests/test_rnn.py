"""Parity of the hand-written cells with nn.RNN / nn.LSTM, and the loop's bookkeeping."""
import pytest
import torch
import torch.nn as nn

from course_lib.rnn import GATES, LSTMCell, RNNCell, lstm_step, rnn_step, run


def _inputs(B=3, T=7, d_in=5, seed=0):
    return torch.randn(B, T, d_in, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("batch_first", [True, False])
def test_rnn_matches_nn_rnn(batch_first):
    torch.manual_seed(0)
    ref = nn.RNN(5, 4, batch_first=batch_first)
    cell = RNNCell.from_torch(ref)
    x = _inputs()
    h0 = torch.randn(3, 4, generator=torch.Generator().manual_seed(1))
    hs, h_T, gates = run(cell, x, h0)
    ref_out, ref_h = ref(x if batch_first else x.transpose(0, 1), h0[None])
    ref_out = ref_out if batch_first else ref_out.transpose(0, 1)
    assert gates is None
    torch.testing.assert_close(hs, ref_out, atol=1e-5, rtol=0)
    torch.testing.assert_close(h_T, ref_h[0], atol=1e-5, rtol=0)


def test_lstm_matches_nn_lstm():
    torch.manual_seed(0)
    ref = nn.LSTM(5, 4, batch_first=True)
    cell = LSTMCell.from_torch(ref)
    x = _inputs()
    g = torch.Generator().manual_seed(1)
    h0, c0 = torch.randn(3, 4, generator=g), torch.randn(3, 4, generator=g)
    hs, (h_T, c_T), _ = run(cell, x, (h0, c0))
    ref_out, (ref_h, ref_c) = ref(x, (h0[None], c0[None]))
    torch.testing.assert_close(hs, ref_out, atol=1e-5, rtol=0)
    torch.testing.assert_close(h_T, ref_h[0], atol=1e-5, rtol=0)
    torch.testing.assert_close(c_T, ref_c[0], atol=1e-5, rtol=0)


def test_lstm_gradients_match_nn_lstm():
    torch.manual_seed(0)
    ref = nn.LSTM(5, 4, batch_first=True)
    cell = LSTMCell.from_torch(ref)
    x = _inputs()
    run(cell, x)[0].pow(2).sum().backward()
    ref(x)[0].pow(2).sum().backward()
    torch.testing.assert_close(cell.W_h.grad, ref.weight_hh_l0.grad.T, atol=1e-5, rtol=0)
    torch.testing.assert_close(cell.b.grad, ref.bias_ih_l0.grad, atol=1e-5, rtol=0)


def test_default_state_is_zeros_and_states_chain():
    torch.manual_seed(0)
    cell = LSTMCell(5, 4)
    x = _inputs(T=6)
    hs, state, _ = run(cell, x)
    hs1, mid, _ = run(cell, x[:, :2])
    hs2, end, _ = run(cell, x[:, 2:], mid)
    torch.testing.assert_close(torch.cat([hs1, hs2], 1), hs)
    torch.testing.assert_close(end[1], state[1])


def test_lstm_gates_are_recorded_and_in_range():
    torch.manual_seed(0)
    cell = LSTMCell(5, 4)
    x = _inputs()
    hs, (h_T, c_T), gates = run(cell, x, need_gates=True)
    assert set(gates) == set(GATES) | {"cell"}
    for name in GATES + ("cell",):
        assert gates[name].shape == (3, 7, 4)
    for name in ("input", "forget", "output"):
        assert gates[name].min() >= 0 and gates[name].max() <= 1
    assert gates["candidate"].abs().max() <= 1
    c = gates["forget"] * torch.cat([torch.zeros(3, 1, 4), gates["cell"][:, :-1]], 1) \
        + gates["input"] * gates["candidate"]
    torch.testing.assert_close(c, gates["cell"])
    torch.testing.assert_close(gates["output"] * torch.tanh(gates["cell"]), hs)
    torch.testing.assert_close(gates["cell"][:, -1], c_T)


def test_functional_steps():
    g = torch.Generator().manual_seed(0)
    x, h, c = torch.randn(2, 3, generator=g), torch.randn(2, 4, generator=g), torch.randn(2, 4, generator=g)
    W, U, b = torch.randn(3, 4, generator=g), torch.randn(4, 4, generator=g), torch.randn(4, generator=g)
    torch.testing.assert_close(rnn_step(x, h, W, U, b), torch.tanh(x @ W + h @ U + b))
    W4, U4, b4 = torch.randn(3, 16, generator=g), torch.randn(4, 16, generator=g), torch.randn(16, generator=g)
    h1, c1, gates = lstm_step(x, h, c, W4, U4, b4, need_gates=True)
    torch.testing.assert_close(c1, gates["forget"] * c + gates["input"] * gates["candidate"])
    assert lstm_step(x, h, c, W4, U4, b4)[0].shape == (2, 4)


def test_clear_errors():
    cell = RNNCell(5, 4)
    with pytest.raises(ValueError, match="no gates"):
        run(cell, _inputs(), need_gates=True)
    with pytest.raises(ValueError, match=r"\(B, T, d_in\)"):
        run(cell, torch.randn(7, 5))
    with pytest.raises(ValueError, match="width 5"):
        run(cell, torch.randn(2, 3, 6))
    with pytest.raises(ValueError, match="single-layer"):
        RNNCell.from_torch(nn.RNN(5, 4, num_layers=2))
    with pytest.raises(ValueError, match="tanh"):
        RNNCell.from_torch(nn.RNN(5, 4, nonlinearity="relu"))
    with pytest.raises(ValueError, match="proj_size"):
        LSTMCell.from_torch(nn.LSTM(5, 4, proj_size=2))
