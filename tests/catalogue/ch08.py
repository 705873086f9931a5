"""Chapter 08's answers: cross_attention, greedy_decode, DecoderBlock."""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from course_lib.attention import MultiHeadAttention, causal_mask

from . import right, wrong

# --- cross_attention(x (B, T, d), memory (B, S, d), src_real (B, S) bool, Wq, Wk, Wv) -> (out, weights) ---------


def _attend(q, k, v, keep, dim=-1, scale=None):
    scores = q @ k.transpose(-2, -1) / (scale or math.sqrt(q.size(-1)))
    weights = torch.softmax(scores.masked_fill(~keep, float("-inf")), dim=dim)
    return weights @ v, weights


@wrong("cross_attention", "the keys come from the decoder")
def cross_attention(x, memory, src_real, Wq, Wk, Wv):
    return _attend(x @ Wq, x @ Wk, memory @ Wv, src_real[:, None, :])


@wrong("cross_attention", "you masked the real tokens")
def cross_attention(x, memory, src_real, Wq, Wk, Wv):  # noqa: F811
    return _attend(x @ Wq, memory @ Wk, memory @ Wv, ~src_real[:, None, :])


@wrong("cross_attention", "not yet turned into weights")
def cross_attention(x, memory, src_real, Wq, Wk, Wv):  # noqa: F811 (the masked scores returned as the weights)
    q, k, v = x @ Wq, memory @ Wk, memory @ Wv
    scores = (q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))).masked_fill(~src_real[:, None, :], float("-inf"))
    return torch.softmax(scores, dim=-1) @ v, scores


@wrong("cross_attention", "the values come from the decoder")
def cross_attention(x, memory, src_real, Wq, Wk, Wv):  # noqa: F811
    return _attend(x @ Wq, memory @ Wk, x @ Wv, src_real[:, None, :])


@wrong("cross_attention", "softmax ran over the output positions")
def cross_attention(x, memory, src_real, Wq, Wk, Wv):  # noqa: F811
    return _attend(x @ Wq, memory @ Wk, memory @ Wv, src_real[:, None, :], dim=1)


@wrong("cross_attention", "sqrt(d_k)")
def cross_attention(x, memory, src_real, Wq, Wk, Wv):  # noqa: F811
    return _attend(x @ Wq, memory @ Wk, memory @ Wv, src_real[:, None, :], scale=1.0)


@wrong("cross_attention", "d_k instead of")
def cross_attention(x, memory, src_real, Wq, Wk, Wv):  # noqa: F811
    return _attend(x @ Wq, memory @ Wk, memory @ Wv, src_real[:, None, :], scale=Wq.size(1))


@wrong("cross_attention", "padding got attention weight")
def cross_attention(x, memory, src_real, Wq, Wk, Wv):  # noqa: F811
    q, k, v = x @ Wq, memory @ Wk, memory @ Wv
    weights = torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(q.size(-1)), dim=-1)
    return weights @ v, weights


@wrong("cross_attention", "padding mask lines up with the queries")
def cross_attention(x, memory, src_real, Wq, Wk, Wv):  # noqa: F811
    return _attend(x @ Wq, memory @ Wk, memory @ Wv, src_real[:, :, None])


@wrong("cross_attention", "padding mask of the first one")
def cross_attention(x, memory, src_real, Wq, Wk, Wv):  # noqa: F811
    return _attend(x @ Wq, memory @ Wk, memory @ Wv, src_real[0])          # the first row's mask for all


@wrong("cross_attention", "keys as values")
def cross_attention(x, memory, src_real, Wq, Wk, Wv):  # noqa: F811
    return _attend(x @ Wq, memory @ Wk, memory @ Wk, src_real[:, None, :])


@wrong("cross_attention", "did you swap them?")
def cross_attention(x, memory, src_real, Wq, Wk, Wv):  # noqa: F811
    out, weights = _attend(x @ Wq, memory @ Wk, memory @ Wv, src_real[:, None, :])
    return weights, out


@wrong("cross_attention", "(B, S, T)")
def cross_attention(x, memory, src_real, Wq, Wk, Wv):  # noqa: F811
    q, k, v = x @ Wq, memory @ Wk, memory @ Wv
    scores = (k @ q.transpose(-2, -1) / math.sqrt(q.size(-1))).masked_fill(~src_real[:, :, None], float("-inf"))
    weights = torch.softmax(scores, dim=1)
    return weights.transpose(1, 2) @ v, weights


@wrong("cross_attention", "causal mask")
def cross_attention(x, memory, src_real, Wq, Wk, Wv):  # noqa: F811
    T, S = x.size(1), memory.size(1)
    keep = src_real[:, None, :] & torch.ones(T, S, dtype=torch.bool).tril()
    return _attend(x @ Wq, memory @ Wk, memory @ Wv, keep)


@wrong("cross_attention", "after the softmax")
def cross_attention(x, memory, src_real, Wq, Wk, Wv):  # noqa: F811
    q, k, v = x @ Wq, memory @ Wk, memory @ Wv
    weights = torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(q.size(-1)), dim=-1) * src_real[:, None, :]
    return weights @ v, weights


@wrong("cross_attention", "float64")
def cross_attention(x, memory, src_real, Wq, Wk, Wv):  # noqa: F811
    q, k, v = x @ Wq, memory @ Wk, memory @ Wv
    scores = q @ k.transpose(-2, -1) / torch.tensor(q.size(-1), dtype=torch.float64).sqrt()
    weights = torch.softmax(scores.masked_fill(~src_real[:, None, :], float("-inf")), dim=-1)
    return weights @ v.double(), weights


@wrong("cross_attention", "torch.softmax")
def cross_attention(x, memory, src_real, Wq, Wk, Wv):  # noqa: F811
    q, k, v = x @ Wq, memory @ Wk, memory @ Wv
    e = torch.exp(q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))) * src_real[:, None, :]
    weights = e / e.sum(-1, keepdim=True)
    return weights @ v, weights


@wrong("cross_attention", "score of 0")
def cross_attention(x, memory, src_real, Wq, Wk, Wv):  # noqa: F811 (the mask multiplied in)
    q, k, v = x @ Wq, memory @ Wk, memory @ Wv
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))
    weights = torch.softmax(scores * src_real[:, None, :], dim=-1)
    return weights @ v, weights


@wrong("cross_attention", "swapped")
def cross_attention(x, memory, src_real, Wq, Wk, Wv):  # noqa: F811 (queries from the memory, keys from x)
    q, k, v = memory @ Wq, x @ Wk, memory @ Wv
    scores = k @ q.transpose(-2, -1) / math.sqrt(q.size(-1))
    weights = torch.softmax(scores.masked_fill(~src_real[:, None, :], float("-inf")), dim=-1)
    return weights @ v, weights


@right("cross_attention")
def cross_attention(x, memory, src_real, Wq, Wk, Wv):  # noqa: F811
    q, k, v = x @ Wq, memory @ Wk, memory @ Wv
    scores = torch.einsum("btd,bsd->bts", q, k) / q.shape[-1] ** 0.5
    scores = scores.masked_fill(src_real.unsqueeze(1) == 0, -1e9)
    weights = scores.softmax(-1)
    return torch.einsum("bts,bsd->btd", weights, v), weights


@right("cross_attention")
def cross_attention(x, memory, src_real, Wq, Wk, Wv):  # noqa: F811
    outs, ws = [], []
    for b in range(x.size(0)):
        q, k, v = x[b] @ Wq, memory[b] @ Wk, memory[b] @ Wv
        s = q @ k.T / math.sqrt(k.size(-1))
        s = torch.where(src_real[b], s, torch.tensor(float("-inf")))
        w = torch.exp(s - s.max(-1, keepdim=True).values)
        w = w / w.sum(-1, keepdim=True)
        outs.append(w @ v)
        ws.append(w)
    return torch.stack(outs), torch.stack(ws)


@right("cross_attention")
def cross_attention(x, memory, src_real, Wq, Wk, Wv):  # noqa: F811
    q, k, v = x @ Wq, memory @ Wk, memory @ Wv
    bias = torch.zeros(src_real.shape, dtype=q.dtype, device=q.device).masked_fill(~src_real, float("-inf"))
    logits = torch.baddbmm(bias[:, None, :].expand(-1, q.size(1), -1), q, k.transpose(1, 2),
                           alpha=1 / math.sqrt(q.size(-1)))
    weights = F.softmax(logits, dim=2)
    return torch.bmm(weights, v), weights


# --- greedy_decode(model, src, src_real, bos_id, eos_id, max_len) -> out (B, n) long ----------------------------


def _start(model, src, src_real, bos_id):
    """What every loop begins with: the memory, the begin tokens (B, 1) and one done flag per row."""
    memory, _ = model.encode(src, src_real)
    out = torch.full((src.size(0), 1), bos_id, dtype=torch.long, device=src.device)
    return memory, out, torch.zeros(src.size(0), dtype=torch.bool, device=src.device)


def _next(model, out, memory, src_real):
    return model.decode(out, memory, src_real)[0][:, -1].argmax(-1)


@wrong("greedy_decode", "row 0 has no end token")
def greedy_decode(model, src, src_real, bos_id, eos_id, max_len):
    memory, out, done = _start(model, src, src_real, bos_id)
    for _ in range(max_len):
        nxt = _next(model, out, memory, src_real)
        done |= nxt == eos_id
        if done.all():
            break                                        # before the last end token is appended
        out = torch.cat([out, nxt.masked_fill(done, 0)[:, None]], dim=1)
    return out[:, 1:]


@wrong("greedy_decode", "meets one from the input")
def greedy_decode(model, src, src_real, bos_id, eos_id, max_len):  # noqa: F811 (the start made without device=)
    memory, _ = model.encode(src, src_real)
    out = torch.full((src.size(0), 1), bos_id, dtype=torch.long)     # on the CPU
    ended = torch.zeros(src.size(0), dtype=torch.bool)                # on the CPU
    while not ended.all() and out.size(1) <= max_len:
        nxt = torch.where(ended, 0, _next(model, out, memory, src_real))
        ended = ended | (nxt == eos_id)
        out = torch.cat((out, nxt.unsqueeze(1)), 1)
    return out[:, 1:]


@wrong("greedy_decode", "stop only when ALL rows have ended")
def greedy_decode(model, src, src_real, bos_id, eos_id, max_len):  # noqa: F811
    memory, out, _ = _start(model, src, src_real, bos_id)
    for _ in range(max_len):
        nxt = _next(model, out, memory, src_real)
        out = torch.cat([out, nxt[:, None]], dim=1)
        if (nxt == eos_id).any():
            break
    return out[:, 1:]


@wrong("greedy_decode", "stop as soon as all are done")
def greedy_decode(model, src, src_real, bos_id, eos_id, max_len):  # noqa: F811
    memory, out, done = _start(model, src, src_real, bos_id)
    for _ in range(max_len):
        nxt = _next(model, out, memory, src_real).masked_fill(done, 0)
        out = torch.cat([out, nxt[:, None]], dim=1)
        done |= nxt == eos_id
    return out[:, 1:]


@wrong("greedy_decode", "[PAD]")
def greedy_decode(model, src, src_real, bos_id, eos_id, max_len):  # noqa: F811
    memory, out, _ = _start(model, src, src_real, bos_id)
    for _ in range(max_len):
        out = torch.cat([out, _next(model, out, memory, src_real)[:, None]], dim=1)
        if (out == eos_id).any(dim=1).all():
            break
    return out[:, 1:]


@wrong("greedy_decode", "its done flag must never be reset")
def greedy_decode(model, src, src_real, bos_id, eos_id, max_len):  # noqa: F811
    memory, out, done = _start(model, src, src_real, bos_id)
    for _ in range(max_len):
        nxt = _next(model, out, memory, src_real).masked_fill(done, 0)
        out = torch.cat([out, nxt[:, None]], dim=1)
        done = nxt == eos_id                              # forgets the rows that ended earlier
        if done.all():
            break
    return out[:, 1:]


@wrong("greedy_decode", "single token")
def greedy_decode(model, src, src_real, bos_id, eos_id, max_len):  # noqa: F811
    memory, last, done = _start(model, src, src_real, bos_id)
    pieces = []
    for _ in range(max_len):
        nxt = _next(model, last, memory, src_real).masked_fill(done, 0)
        pieces.append(nxt)
        last = nxt[:, None]                               # only the newest token goes in
        done |= nxt == eos_id
        if done.all():
            break
    return torch.stack(pieces, dim=1)


@wrong("greedy_decode", "logits[:, -1]")
def greedy_decode(model, src, src_real, bos_id, eos_id, max_len):  # noqa: F811
    memory, out, done = _start(model, src, src_real, bos_id)
    for _ in range(max_len):
        nxt = model.decode(out, memory, src_real)[0][:, 0].argmax(-1).masked_fill(done, 0)
        out = torch.cat([out, nxt[:, None]], dim=1)
        done |= nxt == eos_id
        if done.all():
            break
    return out[:, 1:]


@wrong("greedy_decode", "drop column 0")
def greedy_decode(model, src, src_real, bos_id, eos_id, max_len):  # noqa: F811
    memory, out, done = _start(model, src, src_real, bos_id)
    for _ in range(max_len):
        nxt = _next(model, out, memory, src_real).masked_fill(done, 0)
        out = torch.cat([out, nxt[:, None]], dim=1)
        done |= nxt == eos_id
        if done.all():
            break
    return out


@wrong("greedy_decode", "it does not sample")
def greedy_decode(model, src, src_real, bos_id, eos_id, max_len):  # noqa: F811
    memory, out, done = _start(model, src, src_real, bos_id)
    for _ in range(max_len):
        probs = torch.softmax(model.decode(out, memory, src_real)[0][:, -1], -1)
        nxt = torch.multinomial(probs, 1)[:, 0].masked_fill(done, 0)
        out = torch.cat([out, nxt[:, None]], dim=1)
        done |= nxt == eos_id
        if done.all():
            break
    return out[:, 1:]


@wrong("greedy_decode", "max_len − 1")
def greedy_decode(model, src, src_real, bos_id, eos_id, max_len):  # noqa: F811
    memory, out, done = _start(model, src, src_real, bos_id)
    while out.size(1) < max_len:                          # the begin token counts against max_len
        nxt = _next(model, out, memory, src_real).masked_fill(done, 0)
        out = torch.cat([out, nxt[:, None]], dim=1)
        done |= nxt == eos_id
        if done.all():
            break
    return out[:, 1:]


@wrong("greedy_decode", "one done flag per row")
def greedy_decode(model, src, src_real, bos_id, eos_id, max_len):  # noqa: F811
    memory, out, _ = _start(model, src, src_real, bos_id)
    for _ in range(max_len):
        nxt = _next(model, out, memory, src_real)
        out = torch.cat([out, nxt[:, None]], dim=1)
        if nxt.item() == eos_id:                          # a batch of one in mind
            break
    return out[:, 1:]


@wrong("greedy_decode", "torch.long")
def greedy_decode(model, src, src_real, bos_id, eos_id, max_len):  # noqa: F811
    memory, _, done = _start(model, src, src_real, bos_id)
    out = torch.zeros(src.size(0), 1) + bos_id            # a float tensor
    for _ in range(max_len):
        nxt = _next(model, out.long(), memory, src_real).masked_fill(done, 0)
        out = torch.cat([out, nxt[:, None].float()], dim=1)
        done |= nxt == eos_id
        if done.all():
            break
    return out[:, 1:]


@wrong("greedy_decode", "every row got the tokens of row 0")
def greedy_decode(model, src, src_real, bos_id, eos_id, max_len):  # noqa: F811
    memory, out, _ = _start(model, src, src_real, bos_id)
    for _ in range(max_len):
        nxt = model.decode(out, memory, src_real)[0][0, -1].argmax()   # row 0's prediction
        out = torch.cat([out, nxt.repeat(src.size(0), 1)], dim=1)
        if nxt == eos_id:
            break
    return out[:, 1:]


@wrong("greedy_decode", "src_real is not passed on")
def greedy_decode(model, src, src_real, bos_id, eos_id, max_len):  # noqa: F811 (every source position real)
    memory, out, done = _start(model, src, torch.ones_like(src_real), bos_id)
    for _ in range(max_len):
        nxt = _next(model, out, memory, torch.ones_like(src_real)).masked_fill(done, 0)
        out = torch.cat([out, nxt[:, None]], dim=1)
        done |= nxt == eos_id
        if done.all():
            break
    return out[:, 1:]


@right("greedy_decode")
def greedy_decode(model, src, src_real, bos_id, eos_id, max_len):  # noqa: F811
    memory, out, done = _start(model, src, src_real, bos_id)
    for _ in range(max_len):
        probs = torch.softmax(model.decode(out, memory, src_real)[0], -1)
        nxt = torch.where(done, torch.zeros_like(done, dtype=torch.long), probs[:, -1].max(-1)[1])
        out = torch.cat([out, nxt.unsqueeze(1)], dim=1)
        done = done | (nxt == eos_id)
        if bool(done.all()):
            break
    return out[:, 1:]


@right("greedy_decode")
def greedy_decode(model, src, src_real, bos_id, eos_id, max_len):  # noqa: F811
    rows = []
    for b in range(src.size(0)):                          # one sequence at a time, then padded
        s, r = src[b:b + 1], src_real[b:b + 1]
        memory, _ = model.encode(s, r)
        seq = [bos_id]
        while len(seq) <= max_len:
            logits, _ = model.decode(torch.tensor([seq], device=src.device), memory, r)
            seq.append(int(logits[0, -1].argmax()))
            if seq[-1] == eos_id:
                break
        rows.append(seq[1:])
    n = max(map(len, rows))
    return torch.tensor([row + [0] * (n - len(row)) for row in rows], device=src.device)


@right("greedy_decode")
def greedy_decode(model, src, src_real, bos_id, eos_id, max_len):  # noqa: F811
    memory, bos, finished = _start(model, src, src_real, bos_id)
    generated = bos[:, :0]
    while generated.size(1) < max_len and not finished.all():
        logits, _ = model(src, src_real, torch.cat([bos, generated], dim=1))   # forward: encode + decode
        nxt = logits[:, -1, :].argmax(dim=1)
        nxt[finished] = 0
        generated = torch.cat([generated, nxt[:, None]], 1)
        finished = finished | nxt.eq(eos_id)
    return generated


# --- DecoderBlock(d_model, n_heads, dropout=0.0) ----------------------------------------------------------------


class DecoderBlock(nn.Module):
    def __init__(self, d_model, n_heads, dropout=0.0):
        super().__init__()
        self.ln1, self.ln2, self.ln3 = nn.LayerNorm(d_model), nn.LayerNorm(d_model), nn.LayerNorm(d_model)
        self.self_attn = MultiHeadAttention(d_model, n_heads, dropout)
        self.cross_attn = MultiHeadAttention(d_model, n_heads, dropout)
        self.ff = nn.Sequential(nn.Linear(d_model, 4 * d_model), nn.GELU(), nn.Linear(4 * d_model, d_model))
        self.dropout = nn.Dropout(dropout)

    def attend_self(self, x, need_weights):
        return self.self_attn(self.ln1(x), mask=causal_mask(x.size(1), x.device), need_weights=need_weights)

    def attend_memory(self, x, memory, src_mask, need_weights):
        return self.cross_attn(self.ln2(x), context=memory, mask=src_mask, need_weights=need_weights)

    def forward(self, x, memory, src_mask=None, need_weights=False):
        a, self_w = self.attend_self(x, need_weights)
        x = x + self.dropout(a)
        a, cross_w = self.attend_memory(x, memory, src_mask, need_weights)
        x = x + self.dropout(a)
        x = x + self.dropout(self.ff(self.ln3(x)))
        return x, (self_w, cross_w)


Right = DecoderBlock


@wrong("DecoderBlock", "post-LN")
class DecoderBlock(Right):  # noqa: F811
    def forward(self, x, memory, src_mask=None, need_weights=False):
        a, self_w = self.self_attn(x, mask=causal_mask(x.size(1), x.device), need_weights=need_weights)
        x = self.ln1(x + self.dropout(a))
        a, cross_w = self.cross_attn(x, context=memory, mask=src_mask, need_weights=need_weights)
        x = self.ln2(x + self.dropout(a))
        return self.ln3(x + self.dropout(self.ff(x))), (self_w, cross_w)


@wrong("DecoderBlock", "has no causal mask")
class DecoderBlock(Right):  # noqa: F811
    def attend_self(self, x, need_weights):
        return self.self_attn(self.ln1(x), need_weights=need_weights)


@wrong("DecoderBlock", "residual connection around the cross-attention is missing")
class DecoderBlock(Right):  # noqa: F811
    def forward(self, x, memory, src_mask=None, need_weights=False):
        a, self_w = self.attend_self(x, need_weights)
        x = x + self.dropout(a)
        a, cross_w = self.attend_memory(x, memory, src_mask, need_weights)
        x = self.dropout(a)
        return x + self.dropout(self.ff(self.ln3(x))), (self_w, cross_w)


@wrong("DecoderBlock", "does not reach the cross-attention")
class DecoderBlock(Right):  # noqa: F811
    def attend_memory(self, x, memory, src_mask, need_weights):
        return self.cross_attn(self.ln2(x), context=memory, need_weights=need_weights)


@wrong("DecoderBlock", "does not read the memory")
class DecoderBlock(Right):  # noqa: F811
    def attend_memory(self, x, memory, src_mask, need_weights):
        return self.cross_attn(self.ln2(x), mask=causal_mask(x.size(1), x.device), need_weights=need_weights)


@wrong("DecoderBlock", "takes its queries from ln2(x)")
class DecoderBlock(Right):  # noqa: F811
    def attend_memory(self, x, memory, src_mask, need_weights):
        return self.cross_attn(memory, context=self.ln2(x), need_weights=need_weights)


@wrong("DecoderBlock", "the memory went through ln2")
class DecoderBlock(Right):  # noqa: F811
    def attend_memory(self, x, memory, src_mask, need_weights):
        return self.cross_attn(self.ln2(x), context=self.ln2(memory), mask=src_mask, need_weights=need_weights)


@wrong("DecoderBlock", "ReLU")
class DecoderBlock(Right):  # noqa: F811
    def __init__(self, d_model, n_heads, dropout=0.0):
        super().__init__(d_model, n_heads, dropout)
        self.ff[1] = nn.ReLU()


@wrong("DecoderBlock", "device=x.device")
class DecoderBlock(Right):  # noqa: F811
    def attend_self(self, x, need_weights):
        return self.self_attn(self.ln1(x), mask=causal_mask(x.size(1)), need_weights=need_weights)


@wrong("DecoderBlock", "applies self.dropout 1 time")
class DecoderBlock(Right):  # noqa: F811
    def forward(self, x, memory, src_mask=None, need_weights=False):
        a, self_w = self.attend_self(x, need_weights)
        x = x + a
        a, cross_w = self.attend_memory(x, memory, src_mask, need_weights)
        x = x + a
        return self.dropout(x + self.ff(self.ln3(x))), (self_w, cross_w)


@wrong("DecoderBlock", "returned no weights")
class DecoderBlock(Right):  # noqa: F811
    def forward(self, x, memory, src_mask=None, need_weights=False):
        return super().forward(x, memory, src_mask, need_weights=False)


@wrong("DecoderBlock", "in place")
class DecoderBlock(Right):  # noqa: F811
    def forward(self, x, memory, src_mask=None, need_weights=False):
        a, self_w = self.attend_self(x, need_weights)
        x += self.dropout(a)
        a, cross_w = self.attend_memory(x, memory, src_mask, need_weights)
        x += self.dropout(a)
        x += self.dropout(self.ff(self.ln3(x)))
        return x, (self_w, cross_w)


@wrong("DecoderBlock", "the causal mask is the wrong way round")
class DecoderBlock(Right):  # noqa: F811
    def attend_self(self, x, need_weights):
        future = torch.ones(x.size(1), x.size(1), dtype=torch.bool, device=x.device).triu(1)
        return self.self_attn(self.ln1(x), mask=future, need_weights=need_weights)


@wrong("DecoderBlock", "ln3")
class DecoderBlock(Right):  # noqa: F811
    def forward(self, x, memory, src_mask=None, need_weights=False):
        a, self_w = self.attend_self(x, need_weights)
        x = x + self.dropout(a)
        a, cross_w = self.attend_memory(x, memory, src_mask, need_weights)
        x = x + self.dropout(a)
        return x + self.dropout(self.ff(self.ln2(x))), (self_w, cross_w)   # ln2 again


@wrong("DecoderBlock", "must return a pair")
class DecoderBlock(Right):  # noqa: F811
    def forward(self, x, memory, src_mask=None, need_weights=False):
        x, (self_w, cross_w) = super().forward(x, memory, src_mask, need_weights)
        return x, self_w, cross_w


@wrong("DecoderBlock", "the weights are in the wrong order")
class DecoderBlock(Right):  # noqa: F811
    def forward(self, x, memory, src_mask=None, need_weights=False):
        x, (self_w, cross_w) = super().forward(x, memory, src_mask, need_weights)
        return x, (cross_w, self_w)


@wrong("DecoderBlock", "cross-attention comes before the self-attention")
class DecoderBlock(Right):  # noqa: F811 (each keeps its own layer norm)
    def forward(self, x, memory, src_mask=None, need_weights=False):
        a, cross_w = self.attend_memory(x, memory, src_mask, need_weights)
        x = x + self.dropout(a)
        a, self_w = self.attend_self(x, need_weights)
        x = x + self.dropout(a)
        x = x + self.dropout(self.ff(self.ln3(x)))
        return x, (self_w, cross_w)


@wrong("DecoderBlock", "added to the block's input")
class DecoderBlock(Right):  # noqa: F811 (the second residual adds to the x that came in)
    def forward(self, x, memory, src_mask=None, need_weights=False):
        a, self_w = self.attend_self(x, need_weights)
        h = x + self.dropout(a)
        a, cross_w = self.attend_memory(h, memory, src_mask, need_weights)
        x = x + self.dropout(a)
        x = x + self.dropout(self.ff(self.ln3(x)))
        return x, (self_w, cross_w)


@right("DecoderBlock")
class DecoderBlock(Right):  # noqa: F811
    def forward(self, x, memory, src_mask=None, need_weights=False):
        T = x.size(1)
        future = torch.triu(torch.ones(T, T, dtype=torch.bool, device=x.device), diagonal=1)
        h = self.ln1(x)
        a, self_w = self.self_attn(h, mask=~future, need_weights=need_weights)
        x = x + self.dropout(a)
        a, cross_w = self.cross_attn(self.ln2(x), memory, src_mask, need_weights)
        x = x + self.dropout(a)
        return x + self.dropout(self.ff[2](F.gelu(self.ff[0](self.ln3(x))))), (self_w, cross_w)


@right("DecoderBlock")
class DecoderBlock(Right):  # noqa: F811
    def forward(self, x, memory, src_mask=None, need_weights=False):
        weights = []
        subs = [lambda h: self.attend_self(x, need_weights),
                lambda h: self.cross_attn(h, context=memory, mask=src_mask, need_weights=need_weights),
                lambda h: (self.ff(h), None)]
        for i, (norm, sub) in enumerate(zip([self.ln1, self.ln2, self.ln3], subs)):
            a, w = sub(norm(x)) if i else sub(None)
            x = x + self.dropout(a)
            if i < 2:
                weights.append(w)
        return x, tuple(weights)


@right("DecoderBlock")
class DecoderBlock(Right):  # noqa: F811
    def forward(self, x, memory, src_mask=None, need_weights=False):
        mask = torch.tril(torch.ones_like(x[0, :, :1].expand(-1, x.size(1)), dtype=torch.bool))
        a, self_w = self.self_attn(self.ln1(x), None, mask, need_weights)
        x = self.dropout(a) + x
        a, cross_w = self.attend_memory(x, memory, src_mask, need_weights)
        x = self.dropout(a) + x
        ff = self.ff(self.ln3(x))
        return self.dropout(ff) + x, (self_w, cross_w)


@wrong("cross_attention", "the decoder's positions against themselves")
def cross_attention(x, memory, src_real, Wq, Wk, Wv):  # noqa: F811 (keys and values from x: no memory at all)
    return _attend(x @ Wq, x @ Wk, x @ Wv, torch.ones(1, 1, x.size(1), dtype=torch.bool, device=x.device))


@wrong("DecoderBlock", "cross-attention got a causal mask too")
class DecoderBlock(Right):  # noqa: F811
    def attend_memory(self, x, memory, src_mask, need_weights):
        lower = torch.ones(x.size(1), memory.size(1), dtype=torch.bool, device=x.device).tril()
        mask = lower if src_mask is None else src_mask & lower
        return self.cross_attn(self.ln2(x), context=memory, mask=mask, need_weights=need_weights)


@wrong("DecoderBlock", "self.self_attn also does the cross-attention")
class DecoderBlock(Right):  # noqa: F811
    def attend_memory(self, x, memory, src_mask, need_weights):
        return self.self_attn(self.ln2(x), context=memory, mask=src_mask, need_weights=need_weights)
