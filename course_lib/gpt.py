"""GPT: a decoder-only Transformer that predicts the next token (the GPT-2 architecture).

    ids (B, T) -> token embedding + learned position embedding
               -> n_layers x Block: x + attn(ln1(x)) with a causal mask, then x + ff(ln2(x))   (pre-LN)
               -> final layer norm -> logits (B, T, vocab) through the token embedding's own matrix (tied)

The causal mask (因果掩码) lets position t attend only to positions <= t, so the prediction for
token t + 1 never sees token t + 1 itself: one forward pass trains T next-token predictions at once,
and at generation time the model sees exactly what it saw in training.

Attention is course_lib.attention.MultiHeadAttention (q, k, v, out Linear layers). When the weights are
not requested, CausalSelfAttention computes the same thing with PyTorch's fused
F.scaled_dot_product_attention(is_causal=True); tests check that both paths agree.
"""
import functools
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from .attention import MultiHeadAttention, causal_mask, merge_heads, split_heads

__all__ = ["causal_mask", "CausalSelfAttention", "FeedForward", "Block", "GPT", "sample_next", "generate",
           "load_hf_gpt2"]


class CausalSelfAttention(MultiHeadAttention):
    """Multi-head self-attention in which every position sees only itself and the past.

    forward(x (B, T, d_model), need_weights=False) -> (out (B, T, d_model), weights (B, h, T, T) or None)
    need_weights=True runs the course's explicit attention (scores, mask, softmax) and returns the weights;
    otherwise the fused kernel computes the same output faster.
    """

    def forward(self, x, need_weights=False):
        if need_weights:
            return super().forward(x, mask=causal_mask(x.size(1), x.device), need_weights=True)
        q, k, v = (split_heads(proj(x), self.n_heads) for proj in (self.q, self.k, self.v))
        p = self.dropout.p if self.training else 0.0
        out = F.scaled_dot_product_attention(q, k, v, dropout_p=p, is_causal=True)
        return self.out(merge_heads(out)), None


class FeedForward(nn.Module):
    """Position-wise feed-forward: (B, T, d_model) -> (B, T, 4 d_model) -> GELU -> (B, T, d_model).

    gelu="tanh" is GPT-2's approximation ("gelu_new"); gelu="none" is the exact GELU (nanoGPT, BERT).
    """

    def __init__(self, d_model, dropout=0.0, bias=True, gelu="tanh"):
        super().__init__()
        self.gelu = gelu
        self.fc = nn.Linear(d_model, 4 * d_model, bias=bias)
        self.proj = nn.Linear(4 * d_model, d_model, bias=bias)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x):
        return self.dropout(self.proj(F.gelu(self.fc(x), approximate=self.gelu)))


class Block(nn.Module):
    """One pre-LN decoder block: x + attention(ln1(x)), then x + feed_forward(ln2(x)).

    forward(x (B, T, d_model), need_weights=False) -> (x (B, T, d_model), weights (B, h, T, T) or None)
    """

    def __init__(self, d_model, n_heads, dropout=0.0, bias=True, gelu="tanh"):
        super().__init__()
        self.ln1 = nn.LayerNorm(d_model, bias=bias)
        self.attn = CausalSelfAttention(d_model, n_heads, dropout=dropout, bias=bias)
        self.ln2 = nn.LayerNorm(d_model, bias=bias)
        self.ff = FeedForward(d_model, dropout=dropout, bias=bias, gelu=gelu)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x, need_weights=False):
        a, weights = self.attn(self.ln1(x), need_weights=need_weights)
        x = x + self.dropout(a)
        x = x + self.ff(self.ln2(x))
        return x, weights


class GPT(nn.Module):
    """Decoder-only language model.

    GPT(vocab_size, block_size, d_model=128, n_layers=4, n_heads=4, dropout=0.0, bias=True, gelu="tanh",
        block=None)
      block_size: the longest context (number of learned positions); gelu: see FeedForward.
      block: the class of one layer, called as block(d_model, n_heads, dropout) (default: Block with this
      bias and gelu; chapter 07 passes the student's own).
    forward(ids (B, T), need_weights=False) -> (logits (B, T, vocab_size), weights (B, L, h, T, T) or None)
      logits[:, t] is the prediction for token t + 1; weights[b] can go straight to plot.attention_layers.
    loss(ids (B, T), targets (B, T)) -> mean cross-entropy in nats per token.
    generate(ids, max_new_tokens, ...) -> (ids (B, T + max_new_tokens), weights or None): the module's
      generate() below, plus the attention weights of the result if asked.
    """

    def __init__(self, vocab_size, block_size, d_model=128, n_layers=4, n_heads=4, dropout=0.0, bias=True,
                 gelu="tanh", block=None):
        super().__init__()
        self.block_size = block_size
        block = block or functools.partial(Block, bias=bias, gelu=gelu)
        self.tokens = nn.Embedding(vocab_size, d_model)
        self.positions = nn.Embedding(block_size, d_model)
        self.dropout = nn.Dropout(dropout)
        self.blocks = nn.ModuleList(block(d_model, n_heads, dropout) for _ in range(n_layers))
        self.ln_f = nn.LayerNorm(d_model, bias=bias)
        self.head = nn.Linear(d_model, vocab_size, bias=False)
        self.head.weight = self.tokens.weight  # tied: one matrix reads characters in and writes them out
        self.apply(self._init_weights)
        for name, p in self.named_parameters():  # GPT-2: scale the residual projections by 1/sqrt(2 L)
            if name.endswith(("attn.out.weight", "ff.proj.weight")):
                nn.init.normal_(p, mean=0.0, std=0.02 / math.sqrt(2 * n_layers))

    @staticmethod
    def _init_weights(module):
        if isinstance(module, nn.Linear):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)

    def forward(self, ids, need_weights=False):
        if ids.dim() != 2:
            raise ValueError(f"ids must be (batch, time) token ids, got shape {tuple(ids.shape)}")
        T = ids.size(1)
        if T > self.block_size:
            raise ValueError(f"sequence of length {T} is longer than block_size={self.block_size}")
        x = self.dropout(self.tokens(ids) + self.positions(torch.arange(T, device=ids.device)))
        weights = []
        for block in self.blocks:
            x, w = block(x, need_weights=need_weights)
            weights.append(w)
        logits = self.head(self.ln_f(x))
        return logits, (torch.stack(weights, dim=1) if need_weights else None)

    def loss(self, ids, targets):
        """Next-token cross-entropy: ids (B, T) are the inputs, targets (B, T) the same text shifted by one."""
        logits, _ = self(ids)
        return F.cross_entropy(logits.flatten(0, 1), targets.flatten())

    @torch.no_grad()
    def generate(self, ids, max_new_tokens, temperature=1.0, top_k=None, generator=None, need_weights=False):
        """generate(self, ids, …) below; with need_weights=True also the attention weights (B, L, h, T', T')
        of one pass over the final (cropped) sequence: thanks to the causal mask, row t is exactly what the
        model looked at when it predicted token t + 1. Returns (ids, weights or None)."""
        ids = generate(self, ids, max_new_tokens, temperature=temperature, top_k=top_k, generator=generator)
        weights = self(ids[:, -self.block_size:], need_weights=True)[1] if need_weights else None
        return ids, weights


def sample_next(logits, temperature=1.0, top_k=None, generator=None):
    """Draw one token per row. logits (B, V) -> ids (B,) long.

    temperature divides the logits before the softmax (< 1 sharper, > 1 flatter; 0 means greedy argmax);
    top_k keeps only the k largest logits of each row; generator (torch.Generator) makes draws repeatable.
    """
    if temperature == 0:
        return logits.argmax(dim=-1)
    logits = logits / temperature
    if top_k is not None:
        kth = torch.topk(logits, min(top_k, logits.size(-1)), dim=-1).values[:, -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    probs = F.softmax(logits, dim=-1)
    if generator is not None:
        probs = probs.to(generator.device)
    return torch.multinomial(probs, 1, generator=generator).squeeze(-1).to(logits.device)


@torch.no_grad()
def generate(model, ids, max_new_tokens, temperature=1.0, top_k=None, generator=None):
    """Extend ids (B, T) by max_new_tokens sampled tokens, one at a time -> ids (B, T + max_new_tokens).

    model(ids) -> (logits (B, T, V), _) is any model with a .block_size (call model.eval() first). Each step
    feeds the last block_size tokens and draws from the last position's logits with
    sample_next(temperature, top_k, generator).
    """
    for _ in range(max_new_tokens):
        logits, _ = model(ids[:, -model.block_size:])
        nxt = sample_next(logits[:, -1], temperature=temperature, top_k=top_k, generator=generator)
        ids = torch.cat([ids, nxt[:, None]], dim=1)
    return ids


def load_hf_gpt2(model, hf_model_or_state_dict):
    """Copy the weights of a Hugging Face GPT2LMHeadModel (or its state_dict) into a course GPT, in place.

    HF GPT-2 stores Linear layers as Conv1D with transposed weights (in, out), and fuses q, k, v into one
    c_attn layer of width 3 d_model; here they are split and transposed into q, k, v. The course GPT must
    have the same sizes, bias=True and gelu="tanh", which is HF's default activation "gelu_new".
    Returns the model.
    """
    sd = hf_model_or_state_dict
    sd = sd.state_dict() if hasattr(sd, "state_dict") else sd
    sd = {k.removeprefix("transformer."): v for k, v in sd.items()}
    ours = {}
    ours["tokens.weight"] = sd["wte.weight"]
    ours["positions.weight"] = sd["wpe.weight"]
    for i in range(len(model.blocks)):
        hf, me = f"h.{i}.", f"blocks.{i}."
        for a, b in (("ln_1", "ln1"), ("ln_2", "ln2")):
            ours[me + b + ".weight"] = sd[hf + a + ".weight"]
            ours[me + b + ".bias"] = sd[hf + a + ".bias"]
        q, k, v = sd[hf + "attn.c_attn.weight"].t().chunk(3, dim=0)
        qb, kb, vb = sd[hf + "attn.c_attn.bias"].chunk(3)
        for name, w, b in (("q", q, qb), ("k", k, kb), ("v", v, vb)):
            ours[me + f"attn.{name}.weight"], ours[me + f"attn.{name}.bias"] = w, b
        for a, b in (("attn.c_proj", "attn.out"), ("mlp.c_fc", "ff.fc"), ("mlp.c_proj", "ff.proj")):
            ours[me + b + ".weight"] = sd[hf + a + ".weight"].t()
            ours[me + b + ".bias"] = sd[hf + a + ".bias"]
    ours["ln_f.weight"], ours["ln_f.bias"] = sd["ln_f.weight"], sd["ln_f.bias"]
    ours["head.weight"] = sd.get("lm_head.weight", sd["wte.weight"])
    expected = set(model.state_dict())
    if set(ours) != expected:
        raise ValueError(f"layout mismatch: missing {sorted(expected - set(ours))}, "
                         f"unexpected {sorted(set(ours) - expected)}")
    with torch.no_grad():
        for name, p in model.state_dict().items():
            if p.shape != ours[name].shape:
                raise ValueError(f"{name}: course GPT has shape {tuple(p.shape)}, GPT-2 {tuple(ours[name].shape)}")
            p.copy_(ours[name])
    return model
