"""An encoder-decoder Transformer (编码器-解码器) for outputs whose length differs from the input's.

    src (B, S) -> embedding + positions -> Encoder (self-attention over the whole input) -> memory (B, S, d)
    tgt (B, T) -> embedding + positions -> n_layers x DecoderBlock -> logits (B, T, vocab)
    DecoderBlock: x + causal self-attention(ln1(x))              the output so far
                  x + cross-attention(ln2(x), context=memory)    queries from the output, keys/values from the input
                  x + feed_forward(ln3(x))                       (pre-LN, like GPT-2)

The decoder is a GPT that also looks at the encoder's features: its tgt starts with a begin token ([CLS]
here) and it is trained to predict tgt shifted by one, ending with an end token ([SEP]). At inference
greedy_decode feeds its own predictions back in until every sequence has produced the end token.
"""
import torch
import torch.nn as nn

from .attention import (Encoder, LearnedPositions, MultiHeadAttention, causal_mask, padding_mask,
                        scaled_dot_product_attention)

__all__ = ["cross_attention", "DecoderBlock", "Seq2Seq", "greedy_decode"]


def cross_attention(x, memory, src_real, Wq, Wk, Wv):
    """One head of cross-attention (交叉注意力): the output side asks, the input side answers.

    x: (B, T, d) decoder states -> queries q = x Wq; memory: (B, S, d) encoder output -> keys k = memory Wk
    and values v = memory Wv; src_real: (B, S) bool, True = a real input token (padding gets no weight).
    Returns (out (B, T, d_k), weights (B, T, S)): row t says which input positions output position t read.
    """
    return scaled_dot_product_attention(x @ Wq, memory @ Wk, memory @ Wv, mask=src_real[:, None, :])


class DecoderBlock(nn.Module):
    """Causal self-attention, cross-attention to the encoder's memory, feed-forward; pre-LN residuals.

    forward(x (B, T, d), memory (B, S, d), src_mask (B, 1, 1, S) or None, need_weights=False)
      -> (x (B, T, d), (self weights (B, h, T, T), cross weights (B, h, T, S)) or (None, None))
    """

    def __init__(self, d_model, n_heads, dropout=0.0):
        super().__init__()
        self.ln1, self.ln2, self.ln3 = (nn.LayerNorm(d_model) for _ in range(3))
        self.self_attn = MultiHeadAttention(d_model, n_heads, dropout)
        self.cross_attn = MultiHeadAttention(d_model, n_heads, dropout)
        self.ff = nn.Sequential(nn.Linear(d_model, 4 * d_model), nn.GELU(), nn.Linear(4 * d_model, d_model))
        self.dropout = nn.Dropout(dropout)

    def forward(self, x, memory, src_mask=None, need_weights=False):
        a, self_w = self.self_attn(self.ln1(x), mask=causal_mask(x.size(1), x.device), need_weights=need_weights)
        x = x + self.dropout(a)
        a, cross_w = self.cross_attn(self.ln2(x), context=memory, mask=src_mask, need_weights=need_weights)
        x = x + self.dropout(a)
        x = x + self.dropout(self.ff(self.ln3(x)))
        return x, (self_w, cross_w)


class Seq2Seq(nn.Module):
    """Encoder-decoder Transformer over one shared vocabulary.

    Seq2Seq(vocab_size, max_len=32, d_model=64, n_heads=4, n_layers=2, dropout=0.0, block=None)
      block: the class of one decoder layer, called as block(d_model, n_heads, dropout) (default
      DecoderBlock; chapter 08 passes the student's own).
    encode(src (B, S), src_real (B, S) bool, need_weights=False) -> (memory (B, S, d), encoder weights)
    decode(tgt (B, T), memory, src_real, need_weights=False) -> (logits (B, T, vocab), weights)
    forward(src, src_real, tgt, need_weights=False) -> (logits (B, T, vocab), weights)
    weights (when requested) is a dict of (B, L, h, ., .) tensors: "encoder" (S x S), "decoder" (T x T
    causal self-attention) and "cross" (T x S: which input positions each output position looked at).
    """

    def __init__(self, vocab_size, max_len=32, d_model=64, n_heads=4, n_layers=2, dropout=0.0, block=None):
        super().__init__()
        block = block or DecoderBlock
        self.src_embed, self.tgt_embed = nn.Embedding(vocab_size, d_model), nn.Embedding(vocab_size, d_model)
        self.src_pos, self.tgt_pos = LearnedPositions(d_model, max_len), LearnedPositions(d_model, max_len)
        self.encoder = Encoder(n_layers, d_model, n_heads, dropout=dropout, norm_first=True)
        self.blocks = nn.ModuleList(block(d_model, n_heads, dropout) for _ in range(n_layers))
        self.ln_f = nn.LayerNorm(d_model)
        self.head = nn.Linear(d_model, vocab_size)
        self.dropout = nn.Dropout(dropout)

    def encode(self, src, src_real, need_weights=False):
        x = self.dropout(self.src_pos(self.src_embed(src)))
        memory, weights = self.encoder(x, mask=padding_mask(src_real), need_weights=need_weights)
        return memory, (torch.stack(weights, dim=1) if need_weights else None)

    def decode(self, tgt, memory, src_real, need_weights=False):
        x = self.dropout(self.tgt_pos(self.tgt_embed(tgt)))
        self_ws, cross_ws = [], []
        for block in self.blocks:
            x, (self_w, cross_w) = block(x, memory, padding_mask(src_real), need_weights=need_weights)
            self_ws.append(self_w)
            cross_ws.append(cross_w)
        logits = self.head(self.ln_f(x))
        if not need_weights:
            return logits, None
        return logits, {"decoder": torch.stack(self_ws, dim=1), "cross": torch.stack(cross_ws, dim=1)}

    def forward(self, src, src_real, tgt, need_weights=False):
        memory, enc_w = self.encode(src, src_real, need_weights)
        logits, weights = self.decode(tgt, memory, src_real, need_weights)
        if need_weights:
            weights["encoder"] = enc_w
        return logits, weights


@torch.no_grad()
def greedy_decode(model, src, src_real, bos_id, eos_id, max_len, pad_id=0, need_weights=False):
    """Generate outputs one token at a time, always taking the most likely next token (call model.eval() first).

    Encodes src once; starts every output with bos_id; at each step feeds everything generated so far,
    takes the argmax of the last position's logits and appends it; a sequence that has produced eos_id
    gets pad_id afterwards; stops when all have ended or after max_len tokens.
    Returns (out (B, n) without the begin token, the end token included; weights or None): weights are
    model.decode's, for the decoder input [bos, out[:, :-1]], so query row t is what produced out[:, t].
    """
    memory, _ = model.encode(src, src_real)
    out = torch.full((src.size(0), 1), bos_id, dtype=torch.long, device=src.device)
    done = torch.zeros(src.size(0), dtype=torch.bool, device=src.device)
    for _ in range(max_len):
        logits, _ = model.decode(out, memory, src_real)
        nxt = logits[:, -1].argmax(dim=-1).masked_fill(done, pad_id)
        out = torch.cat([out, nxt[:, None]], dim=1)
        done |= nxt == eos_id
        if done.all():
            break
    weights = model.decode(out[:, :-1], memory, src_real, need_weights=True)[1] if need_weights else None
    return out[:, 1:], weights
