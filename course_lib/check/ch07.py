"""Exercise checks for chapter 07 (GPT): the causal mask, sampling the next token, the bigram baseline,
the module Block and the sampling loop generate."""
import re

import torch
import torch.nn as nn
import torch.nn.functional as F

from .. import attention
from .. import gpt as ref
from .. import ngram
from . import _modules as m
from ._core import Fail, exercise

__all__ = ["causal_mask", "sample_next", "bigram_log_probs", "Block", "generate"]


@exercise
def causal_mask(c):
    """Checks causal_mask(T) -> (T, T) bool, True where query t may attend to key s (s <= t).
    Reference: course_lib.gpt.causal_mask."""
    for T in (5, 1, 8, 33):
        out = c.call(T)
        if isinstance(out, torch.Tensor) and out.dim() >= 2 and tuple(out.shape[-2:]) != (T, T):
            other = c.call(T + 3)
            if isinstance(other, torch.Tensor) and other.shape == out.shape:
                raise Fail(f"causal_mask({T}) and causal_mask({T + 3}) both have shape {tuple(out.shape)}: the size "
                           "is fixed in your code — build the mask from the argument T")
            if isinstance(out, torch.Tensor) and out.dim() == 2 and out.size(0) == out.size(1) in (T - 1, T + 1):
                raise Fail(f"causal_mask({T}) has shape {tuple(out.shape)}, expected {(T, T)}: one size off — "
                           "T positions give a T × T mask (query t, key s for t, s in 0 … T-1)")
        if isinstance(out, torch.Tensor) and out.dim() > 2 and tuple(out.shape[-2:]) == (T, T) and \
                all(n == 1 for n in out.shape[:-2]):
            raise Fail(f"causal_mask({T}) has shape {tuple(out.shape)}, expected {(T, T)}: an extra axis of size 1 "
                       "in front — return the (T, T) mask itself; the attention broadcasts it over the batch and "
                       "the heads")
        if isinstance(out, torch.Tensor) and out.shape == (T, T) and out.dtype != torch.bool:
            lower = ref.causal_mask(T)
            if out.is_floating_point() and (torch.isinf(out).any() or bool((out <= -1e4).any())):
                raise Fail("you returned an additive float mask (0 where allowed, -inf or a large negative number "
                           "where blocked); the course's masks are bool: True = may attend — hint: build a "
                           "boolean tensor from the start and keep its lower triangle")
            if torch.equal(out != 0, lower):
                raise Fail(f"right pattern, but dtype {out.dtype}: the course's masks are bool "
                           "(True = may attend) — hint: add .bool() or build it with dtype=torch.bool")
        out = c.tensor(out, shape=(T, T), dtype=torch.bool, what=f"causal_mask({T})")
        lower = ref.causal_mask(T)
        c.close(out, lower, mistakes={
            "your mask lets every position see the future (True above the diagonal): the lower triangle "
            "(tril), not the upper (triu), is allowed": lower.T,
            "True should mean 'may attend', but your mask is True exactly where attention must be blocked":
                ~lower,
            "every position must be allowed to attend to itself: the diagonal has to be True "
            "(tril(), not tril(-1))": lower.tril(-1),
            "your mask allows everything: it must hide the positions after t": torch.ones(T, T, dtype=torch.bool),
            "your mask lets each position see one step ahead (True just above the diagonal too): the causal "
            "mask is off by one — only keys 0 … t are allowed": torch.ones(T, T, dtype=torch.bool).tril(1),
            "your mask lets each position see only itself (the diagonal): the keys before t must be allowed "
            "too": torch.eye(T, dtype=torch.bool),
        } if T > 1 else None, what=f"causal_mask({T})", hint="position t may look at positions 0 … t: that is the lower triangle, diagonal included")


def _frequencies(ids, V, rows):
    return torch.bincount(ids[rows], minlength=V)[:V].double() / len(rows)


@exercise
def sample_next(c):
    """Checks sample_next(logits (B, V), temperature=1.0, top_k=None, generator=None) -> ids (B,) long.
    Samples are random, so the check draws 20,000 per row type and compares the frequencies with the
    reference distribution softmax(top_k(logits) / temperature). Reference: course_lib.gpt.sample_next."""
    c.defaults(ref.sample_next)
    a = torch.tensor([2.0, 1.0, 0.5, 0.0, -1.0, -3.0])
    b = torch.tensor([-1.0, 0.6, 3.0, 1.5, 0.9, 1.8])  # k-th largest differs from a's: top-k must be per row
    N, V = 20000, 6
    logits = torch.stack([a, b]).repeat(N, 1)  # rows alternate a, b: top-k must be per row
    rows = {"a": torch.arange(0, 2 * N, 2), "b": torch.arange(1, 2 * N, 2)}
    other = {"a": b, "b": a}

    def dist(row, temperature=1.0, top_k=None, kth_from=None, fill=float("-inf")):
        x = row / temperature
        if top_k is not None:
            kth = (x if kth_from is None else kth_from / temperature).topk(top_k).values[-1]
            x = x.masked_fill(x < kth, fill)
        return F.softmax(x.double(), -1)

    def _runs_with_top_k(k, temperature):
        try:
            c.call(logits, temperature=temperature, top_k=k, generator=torch.Generator().manual_seed(0))
            return True
        except Fail:
            return False

    def _each_row_alone_runs(temperature, top_k):
        for row in (a, b):
            try:
                c.call(row[None].repeat(4, 1), temperature=temperature, top_k=top_k,
                       generator=torch.Generator().manual_seed(0))
            except Fail:
                return False
        return True

    def draw(temperature, top_k, seed=0):
        try:
            out = c.call(logits, temperature=temperature, top_k=top_k, generator=torch.Generator().manual_seed(seed))
        except Fail as e:
            if "'replacement' (position 3)" in str(e):
                raise Fail(f"{e} — pass the generator by keyword (generator=…): torch.multinomial's third "
                           "positional argument is `replacement`") from None
            if top_k is not None and _each_row_alone_runs(temperature, top_k):
                raise Fail(f"sample_next(temperature={temperature}, top_k={top_k}) fails on a batch whose rows "
                           "have different logits, yet runs on each of those rows alone: one row's result depends "
                           "on the others — the k-th largest must be found in each row, not over the whole batch "
                           "(topk along dim=-1, kept as a column (B, 1)), or a row can lose every token "
                           f"({str(e).split(':')[0]})") from None
            if top_k is None and _runs_with_top_k(V, temperature):
                raise Fail(f"{e} — with top_k=None (the default) no top-k filtering happens: do that step only "
                           "when top_k is not None") from None
            raise
        if isinstance(out, torch.Tensor) and out.shape == (2 * N, 1):
            raise Fail("your result has shape (B, 1): return one id per row, shape (B,) — hint: .squeeze(-1)")
        out = c.tensor(out, shape=(2 * N,), what=f"sample_next(temperature={temperature}, top_k={top_k})")
        if out.is_floating_point() or out.dtype == torch.bool:
            raise Fail(f"your result has dtype {out.dtype}: return token ids as integers (torch.long)")
        c.expect(bool(((out >= 0) & (out < V)).all()), "some returned ids are not valid token ids (0 .. V-1)")
        return out.long()

    for temperature, top_k in ((1.0, None), (0.5, None), (2.0, None), (1.0, 3), (0.7, 2)):
        out = draw(temperature, top_k)
        for name, row in (("a", a), ("b", b)):
            mistakes = {} if top_k is None else {
                **({"only each row's single largest logit survives your top-k filter (the sampling itself works "
                    "without top_k): the threshold is the row's k-th largest logit, the last of the k that topk "
                    "returns, not the first": dist(row, temperature, 1)} if top_k > 2 else {}),
                "top-k must be per row: you used the k-th largest logit of one row (e.g. logits[0]) for every "
                "row — take each row's own k-th largest (topk along dim=-1), kept as a column (B, 1) so that it "
                "broadcasts": dist(row, temperature, top_k, kth_from=other[name])}
            if top_k is not None and not torch.equal(row.topk(top_k).indices, torch.arange(top_k)):
                ranked = torch.zeros(V, dtype=torch.float64)   # position j within the top k holds the j-th best
                ranked[:top_k] = F.softmax(row.topk(top_k).values.double() / temperature, -1)
                mistakes["these are positions within the top k, not token ids: sampling among topk's values gives "
                         "0 … k-1 — map each back to its token id through the indices topk returns"] = ranked
            if top_k is not None and not torch.equal(row.topk(top_k).indices.sort().values, torch.arange(top_k)):
                mistakes["you kept the first k tokens of the vocabulary (columns 0 … k-1), not the k with the "
                         "largest logits: find where each row's k largest are (topk, or a threshold)"] = \
                    dist(row.masked_fill(torch.arange(V) >= top_k, float("-inf")), temperature)
            mistakes |= {
                "you sampled the most likely token every time (argmax): sample from the probabilities with "
                "torch.multinomial": F.one_hot(row.argmax(), V).double(),
                "the distribution ignores top_k: set every logit below the k-th largest to -inf before "
                "the softmax": dist(row, temperature),
                "the distribution ignores the temperature: divide the logits by it before the softmax":
                    dist(row, 1.0, top_k),
                "you multiplied the logits by the temperature; divide them by it (a low temperature must "
                "sharpen the distribution)": dist(row * temperature * temperature, temperature, top_k),
                "every allowed token comes out equally often: sample in proportion to softmax(logits)":
                    dist(torch.zeros(V).masked_fill(dist(row, 1.0, top_k) == 0, float("-inf"))),
            }
            if top_k is None:
                across = torch.sigmoid((row - other[name]).double() / temperature)  # softmax over dim 0, per row
                mistakes["you applied the softmax over the batch axis (dim 0); each row's probabilities must sum "
                         "to 1 over the vocabulary: softmax(..., dim=-1)"] = across / across.sum()
            else:
                mistakes["you set the dropped logits to 0 instead of -inf: exp(0) = 1, so they keep some "
                         "probability — fill them with float('-inf')"] = dist(row, temperature, top_k, fill=0.0)
                smallest = row.topk(top_k, largest=False).values[-1]
                mistakes["you kept the k smallest logits instead of the k largest"] = \
                    dist(row.masked_fill(row > smallest, float("-inf")), temperature)
                mistakes[f"you kept {top_k - 1} tokens instead of top_k={top_k} (off by one)"] = \
                    dist(row, temperature, top_k - 1)
                mistakes[f"you kept {top_k + 1} tokens instead of top_k={top_k} (off by one: the k-th largest "
                         f"sits at index k - 1)"] = dist(row, temperature, top_k + 1)
            c.close(_frequencies(out, V, rows[name]), dist(row, temperature, top_k), mistakes=mistakes,
                    atol=0.015, rtol=0, axes=("token",),
                    what=f"the frequencies of your samples (temperature={temperature}, top_k={top_k})",
                    hint="divide by the temperature, keep only the k best (the rest can never be drawn), turn "
                         "into probabilities, then draw one id per row with the generator")

    first, again = draw(1.0, None, seed=7), draw(1.0, None, seed=7)
    c.expect(torch.equal(first, again), "two calls with identically seeded generators gave different samples: "
             "pass generator=generator to torch.multinomial so sampling is reproducible")

    big = torch.tensor([[1e4, 0.0, -1e4, 5.0]]).repeat(8, 1)
    try:
        out = c.call(big, temperature=1.0, top_k=None, generator=torch.Generator().manual_seed(0))
    except Fail as e:
        raise Fail(f"with large logits (1e4) {e} — hint: use torch.softmax, which subtracts the row maximum "
                   "so exp() cannot overflow") from None
    out = c.tensor(out, shape=(8,), what="sample_next on large logits")
    c.expect(out.tolist() == [0] * 8, "with logits [1e4, 0, -1e4, 5] the first token has probability ~1, "
             "but your samples include others — hint: use torch.softmax, which is stable for large logits")

    single = c.call(big[:1], temperature=0.5, top_k=2, generator=torch.Generator().manual_seed(0))
    if isinstance(single, torch.Tensor) and single.dim() == 0:
        raise Fail("with a batch of one row your result has shape (), not (1,): a squeeze() without an axis "
                   "drops the batch axis too when B = 1 — name the axis to squeeze")
    single = c.tensor(single, shape=(1,), what="sample_next on a batch of one row (B = 1)")
    c.expect(single.tolist() == [0], "on a batch of one row [1e4, 0, -1e4, 5] your sample is not token 0, "
             "although it has probability ~1")


@exercise
def bigram_log_probs(c):
    """Checks bigram_log_probs(ids (N,), vocab_size, alpha=1.0) -> (V, V) table of log P(next | previous).
    Reference: course_lib.ngram.bigram_log_probs (add-alpha smoothing, rows sum to 1 after exp)."""
    c.defaults(ngram.bigram_log_probs)
    g = torch.Generator().manual_seed(0)
    cases = [(torch.randint(0, 7, (300,), generator=g), 7, 1.0),
             (torch.tensor([3, 1, 3, 1, 3, 0, 3, 1, 1, 2]), 5, 0.5)]
    for ids, V, alpha in cases:
        out = c.call(ids, V, alpha=alpha)
        seen = int(ids.max()) + 1
        if isinstance(out, torch.Tensor) and seen < V and out.shape == (seen, seen):
            raise Fail(f"your table has shape {tuple(out.shape)}, expected {(V, V)}: its size comes from the "
                       "largest id in the text — use vocab_size, so that characters the text never shows still "
                       "get a row and a column")
        counts = torch.zeros(V, V)
        counts.index_put_((ids[:-1], ids[1:]), torch.ones(len(ids) - 1), accumulate=True)
        if isinstance(out, torch.Tensor) and out.shape == (V, V) and out.is_floating_point() and \
                torch.isneginf(out).any() and not out.isnan().any():
            if not torch.isneginf(out[counts > 0]).any():
                raise Fail("your table has -inf (log 0) for pairs never seen in the text: add alpha to every "
                           "count before normalising (smoothing), or the model gives unseen pairs zero "
                           "probability and the validation loss becomes infinite")
            raise Fail("your table has -inf (log 0) even for pairs the text contains: their probability came out "
                       "0 — look for a division that rounds down (//, integer tensors) or counts that got lost")
        out = c.tensor(out, shape=(V, V), what="your table")
        once = torch.zeros(V, V)
        once[ids[:-1], ids[1:]] = 1.0
        short = torch.zeros(V, V)  # every pair but the last
        short.index_put_((ids[:-2], ids[1:-1]), torch.ones(len(ids) - 2), accumulate=True)
        wrapped = counts.clone()   # one pair more: the last id followed by the first (torch.roll)
        wrapped[ids[-1], ids[0]] += 1
        expected = ngram.bigram_log_probs(ids, V, alpha)
        smooth = counts + alpha

        def log_rows(m):
            return (m / m.sum(1, keepdim=True)).log()

        mistakes = {
            "you normalised each column; each ROW (one previous character) must sum to 1 after exp":
                (smooth / smooth.sum(0, keepdim=True)).log(),
            "your table is transposed: row = previous character, column = next character": expected.T,
            "these are probabilities, not log-probabilities: take .log() at the end": expected.exp(),
            "repeated pairs were counted only once: counts[a, b] += 1 with index tensors does not add up "
            "duplicates — use index_put_(..., accumulate=True), torch.bincount or a loop": log_rows(once + alpha),
            "the smoothing is off: add alpha to every count (not 1, and not to the probabilities)":
                log_rows(counts + 1.0),
            "you forgot the smoothing: add alpha to every count before normalising":
                log_rows(counts.clamp_min(1e-30)),
            "you counted each pair the wrong way round (counts[next, prev]): row = previous character "
            "ids[t], column = next character ids[t + 1]": log_rows(counts.T + alpha),
            "you divided by the total of ALL counts, which gives the joint P(previous, next); divide each "
            "row by its own sum to get P(next | previous)": (smooth / smooth.sum()).log(),
            "you used log base 2 or 10; use the natural log (nats), like cross_entropy":
                expected / torch.log(torch.tensor(2.0)),
            "each column was divided by a row's total: the row sums, shape (V,), broadcast along the last axis "
            "— keep the summed axis (keepdim=True) so that each row is divided by its own total":
                (smooth / smooth.sum(1)).log(),
            "the last pair (ids[-2], ids[-1]) was not counted: a loop or slice that stops one pair short — "
            "N ids hold N - 1 pairs": log_rows(short + alpha),
            "these are log-counts, never normalised: divide each row by its total before the log, so that "
            "after exp each row sums to 1": smooth.log(),
            "the row totals leave out most of the smoothing: alpha is added to each of a row's vocab_size "
            "cells, so after exp your rows sum to more than 1 — divide by the total of the smoothed row":
                (smooth / (counts.sum(1, keepdim=True) + alpha)).log(),
            "you counted one pair too many, the last id followed by the first: torch.roll wraps around — "
            "pair each id only with the one after it": log_rows(wrapped + alpha),
            "you added alpha to the probabilities: add alpha to the counts before dividing by the row totals "
            "(every cell of a row gets alpha, and the row's total grows by vocab_size × alpha)":
                (counts / counts.sum(1, keepdim=True) + alpha).log(),
            "you added alpha to the probabilities and normalised again: add alpha to the counts before dividing "
            "by the row totals (alpha counts as alpha extra pairs, whatever the row's total)":
                log_rows(counts / counts.sum(1, keepdim=True) + alpha),
            "you took a softmax of the counts: softmax exponentiates them first, so 3 counts weigh e³, not 3 — "
            "divide each row of counts by its total instead": torch.log_softmax(smooth, dim=1),
        }
        c.name_mistake(out, expected, mistakes)
        off = out.double() - expected.double()  # a constant per row: each row scaled, i.e. a wrong row total
        if off.abs().max() > 1e-4 and (off - off.mean(1, keepdim=True)).abs().max() < 1e-4:
            raise Fail("each row of your table is off by its own constant: the rows are divided by the wrong "
                       "total, or not normalised at all — after exp each row must sum to 1")
        c.close(out, expected, mistakes, what=f"your table (vocab_size={V}, alpha={alpha})",
                axes=("previous character", "next character"),
                hint="count every adjacent pair, add alpha to every cell, make each row a distribution, take logs")


BLOCK_LAYOUT = ("ln1 = nn.LayerNorm(d_model); attn = MultiHeadAttention(d_model, n_heads, dropout); "
                "ln2 = nn.LayerNorm(d_model); ff = FeedForward(d_model, dropout); dropout = nn.Dropout(dropout)")


def _gpt_block(b, x, *, pre=True, residual=(True, True), norms=("ln1", "ln2"), mask="causal", final_norm=False,
               stream="kept"):
    """The reference GPT block `b` (its weights) computed with one of the usual mistakes. norms: what each
    sub-layer's input goes through, "ln1", "ln2" or "none"."""
    T = x.size(1)
    lower = attention.causal_mask(T)
    masks = {"causal": lower, "none": None, "no diagonal": lower.tril(-1), "inverted": ~lower,
             "transposed": lower.T}
    n1, n2 = (getattr(b, n) if n != "none" else nn.Identity() for n in norms)
    att = lambda t: attention.MultiHeadAttention.forward(b.attn, t, mask=masks[mask], need_weights=True)[0]  # noqa: E731
    if stream == "normalised":                     # x = ln(x), then x = x + sublayer(x)
        x = n1(x)
        x = x + att(x)
        x = n2(x)
        return x + b.ff(x)
    if stream == "stale":                          # the second residual adds to the block's input
        h = x + att(n1(x))
        return x + b.ff(n2(h))
    if stream == "ff reads input":                 # the feed-forward reads the block's input x
        return x + att(n1(x)) + b.ff(n2(x))
    if stream == "ff reads ln1":                   # ... or the attention's normalised input
        return x + att(n1(x)) + b.ff(n2(n1(x)))
    if stream == "ff reads attention":             # ... or the attention's output alone
        a = att(n1(x))
        return x + a + b.ff(n2(a))
    if pre:
        x = x + att(n1(x)) if residual[0] else att(n1(x))
        x = x + b.ff(n2(x)) if residual[1] else b.ff(n2(x))
        return n2(x) if final_norm else x
    x = n1(x + att(x)) if residual[0] else n1(att(x))
    return n2(x + b.ff(x)) if residual[1] else n2(b.ff(x))


_BLOCK_MISTAKES = {
    "the layer norms come after the additions (post-LN, x = ln(x + sublayer(x)), as in BERT); GPT's block is "
    "pre-LN: each sub-layer reads a normalised copy, and the residual stream x itself is never normalised":
        dict(pre=False),
    "the residual connection around the attention is missing: add the attention's output to x": dict(residual=(False, True)),
    "the residual connection around the feed-forward network is missing: add its output to x": dict(residual=(True, False)),
    "both residual connections are missing: each sub-layer's output is added to its input": dict(residual=(False, False)),
    "ln1 and ln2 are swapped: ln1 belongs to the attention, ln2 to the feed-forward network":
        dict(norms=("ln2", "ln1")),
    "the feed-forward network reads ln1(x): each sub-layer has its own layer norm, and ln2 belongs to the "
    "feed-forward network": dict(norms=("ln1", "ln1")),
    "the attention reads ln2(x): each sub-layer has its own layer norm, and ln1 belongs to the attention":
        dict(norms=("ln2", "ln2")),
    "the feed-forward network reads x unnormalised: pre-LN gives each sub-layer a normalised copy (ln2 for the "
    "feed-forward)": dict(norms=("ln1", "none")),
    "the attention reads x unnormalised: pre-LN gives each sub-layer a normalised copy (ln1 for the "
    "attention)": dict(norms=("none", "ln2")),
    "no sub-layer reads a normalised copy (ln1 and ln2 are unused): pre-LN normalises each sub-layer's input":
        dict(norms=("none", "none")),
    "the residual stream itself is normalised (x = ln1(x), then x + attention(x)): pre-LN feeds the sub-layer "
    "a normalised copy and adds its output to the x that came in, unnormalised": dict(stream="normalised"),
    "the feed-forward's output is added to the block's input: the second residual adds to x as the first one "
    "left it (after the attention's addition)": dict(stream="stale"),
    "the feed-forward network reads the block's input: it must read x as the attention's residual left it "
    "(x + attention), normalised by ln2": dict(stream="ff reads input"),
    "the feed-forward network reads the attention's normalised input ln1(x): it must read x as the attention's "
    "residual left it (x + attention), normalised by ln2": dict(stream="ff reads ln1"),
    "the feed-forward network reads the attention's output alone: it must read the residual stream, x + "
    "attention, normalised by ln2": dict(stream="ff reads attention"),
    "the causal mask is missing: every position attends to the whole sequence, the future included": dict(mask="none"),
    "position 0 attends to nothing: every position must see itself, so the mask's diagonal is True (the lower "
    "triangle with its diagonal, not below it)": dict(mask="no diagonal"),
    "the mask is the wrong way round: True = may attend, and a position may attend to itself and the past":
        dict(mask="inverted"),
    "the mask is the wrong way round: it is the upper triangle (triu), so each position attends to itself and "
    "the future — True = may attend, and query t may see the keys s ≤ t, the lower triangle (tril)":
        dict(mask="transposed"),
    "the output is normalised once more at the end: the block returns x as the second residual leaves it "
    "(GPT's final layer norm ln_f comes after the last block)": dict(final_norm=True),
}


def _nan_positions(out, what):
    """Explain NaN in a causal block's output by the positions it appears at."""
    nan = out.isnan().any(-1).any(0)                                        # (T,) positions with NaN
    T = nan.numel()
    if bool(nan[0]) and not bool(nan[1:].any()):
        raise Fail(f"{what} is NaN at position 0 only: the first query may attend to no key at all — every "
                   "position must see itself, so the mask's diagonal is True (tril(), not tril(-1))")
    if bool(nan[T - 1]) and not bool(nan[0]):
        raise Fail(f"{what} is NaN at the last position: its mask row has no True — the mask is the wrong way "
                   "round (True = may attend, the lower triangle)")
    raise Fail(f"{what} contains NaN at positions {nan.nonzero().flatten().tolist()}: some query had every "
               "score masked to -inf")


def _mask_given(mine, x):
    """The mask the student's forward hands to self.attn (by keyword or third positional argument), or None."""
    seen = []

    def hook(module, args, kwargs):
        seen.append(kwargs.get("mask", args[2] if len(args) > 2 else None))
    attn = getattr(mine, "attn", None)
    if not isinstance(attn, nn.Module):
        return None
    handle = attn.register_forward_pre_hook(hook, with_kwargs=True)
    try:
        with torch.no_grad():
            mine(x, need_weights=True)
    except Exception:
        pass
    finally:
        handle.remove()
    return seen[0] if seen else None


def _dropout_place(c, mine, theirs, x):
    """Where self.dropout acts: stand in for it with a deterministic halving; the output must be that of
    x + ½ attention, then the feed-forward's residual."""
    c.count += 1
    drop = getattr(mine, "dropout", None)
    if not isinstance(drop, nn.Module):
        return
    handle = drop.register_forward_hook(lambda module, inputs, out: 0.5 * out)  # eval mode: out is the input
    try:
        with torch.no_grad():
            got = mine(x)[0]
    except Exception:  # whatever breaks here was not the dropout's doing: the other probes speak of it
        return
    finally:
        handle.remove()
    with torch.no_grad():
        h = x + 0.5 * theirs.attn(theirs.ln1(x))[0]
        want = h + theirs.ff(theirs.ln2(h))
    if isinstance(got, torch.Tensor) and got.shape == want.shape and not torch.allclose(got, want, atol=1e-4,
                                                                                         rtol=1e-3):
        raise Fail("self.dropout acts on something other than the attention's output: it belongs on attn's "
                   "output alone, before that output is added to x (not on the sum, not on the feed-forward)")


@exercise
def Block(c):
    """Checks the class Block(d_model, n_heads, dropout=0.0): the pre-LN GPT block, forward(x (B, T, d_model),
    need_weights=False) -> (x (B, T, d_model), weights (B, h, T, T) or None), with
    x = x + dropout(attn(ln1(x), causal mask)); x = x + ff(ln2(x)). Layout: ln1, attn (MultiHeadAttention),
    ln2, ff (FeedForward), dropout. Reference: course_lib.gpt.Block."""
    c.defaults(ref.Block)
    cls = c.fn
    for seed, (B, T, d, h) in enumerate(((2, 6, 16, 4), (1, 5, 8, 2), (3, 7, 16, 1), (1, 70, 8, 2))):
        theirs = m.randomize(ref.Block(d, h), seed).eval()
        mine = m.load(c, m.build(c, cls, d, h), theirs, BLOCK_LAYOUT)
        x = torch.randn(B, T, d, generator=torch.Generator().manual_seed(seed))
        what = f"Block({d}, {h}) on x {(B, T, d)}"
        with torch.no_grad():
            try:
                out, w = m.pair(c, m.forward(c, mine, x, need_weights=True, what=what), what)
            except Fail as e:
                if "tuple" in str(e) and any(k in str(e) for k in ("unsupported operand", "must be Tensor",
                                                                  "'tuple' object has no attribute")):
                    raise Fail(f"{e} — self.attn returns a pair (out, weights): unpack it before you use the "
                               "output") from None
                if "Bool and Float" in str(e) or "Float and Bool" in str(e):
                    raise Fail(f"{e} — pass the mask by keyword, self.attn(…, mask=mask): the second positional "
                               "argument of MultiHeadAttention is `context`, the keys' source") from None
                given = _mask_given(mine, x)
                if isinstance(given, torch.Tensor) and given.dim() >= 2 and tuple(given.shape[-2:]) != (T, T):
                    raise Fail(f"{e} — the mask you pass to self.attn has shape {tuple(given.shape)}, but the "
                               f"scores are (B, h, T, T) = {(B, h, T, T)}: build it for T = x.size(1), the number "
                               "of positions (not the batch size, d_model or a fixed number)") from None
                raise
            if isinstance(out, torch.Tensor) and out.shape == (B, T, d) and out.isnan().any():
                _nan_positions(out, f"the output of {what}")
            out = c.tensor(out, shape=(B, T, d), dtype=torch.float32, what=f"the output of {what}")
            want, want_w = theirs(x, need_weights=True)
            mistakes = {msg: _gpt_block(theirs, x, **kw) for msg, kw in _BLOCK_MISTAKES.items()}
            c.name_mistake(out, want, mistakes)                          # a known mistake first, then where
            m.future_probe(c, lambda x: m.pair(c, mine(x, need_weights=True), what)[0], x,
                           what=f"the output of {what}")
            c.close(out, want, what=f"the output of {what}",
                    hint="pre-LN: each sub-layer reads ln(x) and adds its output to x; the attention gets the "
                         "causal mask")
            if w is None:
                c.expect(False, f"{what} returned no weights with need_weights=True: pass need_weights on to "
                         "self.attn and return its weights")
            c.close(c.tensor(w, shape=(B, h, T, T), what=f"the weights of {what}"), want_w,
                    what=f"the weights of {what}", hint="return the attention's weights unchanged")
            plain, _ = m.pair(c, m.forward(c, mine, x, what=what), what)
            m.future_probe(c, lambda x: m.pair(c, mine(x), what)[0], x,
                           what=f"the output of {what} with need_weights=False")
            c.close(c.tensor(plain, shape=(B, T, d), what=f"the output of {what} with need_weights=False"), want,
                    what=f"the output of {what} with need_weights=False",
                    hint="need_weights only decides whether the weights come back, not what the block computes")
    theirs = m.randomize(ref.Block(16, 4), 5).eval()
    mine = m.load(c, m.build(c, cls, 16, 4), theirs, BLOCK_LAYOUT)
    x = torch.randn(2, 5, 16, generator=torch.Generator().manual_seed(5))
    m.device_probe(c, mine, x, what="Block's forward")
    m.dropout_probe(c, lambda p: m.load(c, m.build(c, cls, 16, 4, p), theirs, BLOCK_LAYOUT),
                    lambda b: b(x)[0], what="Block")
    m.dropout_calls(c, mine, lambda b: b(x), 1, what="Block", where="once, to the attention's output (FeedForward "
                    "ends with a dropout of its own: do not wrap it in another)")
    _dropout_place(c, mine, theirs, x)
    dropping = m.build(c, cls, 16, 4, 0.5)
    for name, part in (("attn", "the attention (MultiHeadAttention)"), ("ff", "the feed-forward network")):
        rates = [d.p for d in getattr(dropping, name).modules() if isinstance(d, nn.Dropout)]
        c.expect(not rates or any(rates), f"Block(16, 4, dropout=0.5) gives {part} no dropout of its own: pass "
                 f"the block's dropout on when you create self.{name}, as the layout says")
    m.gradient_probe(c, mine.train(), theirs.train(), lambda b: b(x)[0], what="Block")


class _Stepper(nn.Module):
    """A stand-in language model for checking generate: the next token after id i is i + 1 (logit 3),
    or i + 2 (logit 2), mod V; it records every input it is given and whether gradients were on."""

    def __init__(self, V=11, block_size=6):
        super().__init__()
        self.V, self.block_size, self.seen, self.grad = V, block_size, [], []

    def forward(self, ids, need_weights=False):
        self.seen.append(ids.clone())
        self.grad.append(torch.is_grad_enabled())
        logits = 3 * F.one_hot((ids + 1) % self.V, self.V).float() + 2 * F.one_hot((ids + 2) % self.V, self.V).float()
        return logits, None


def _greedy(prompt, n, position=-1, V=11, block_size=6):
    """The stand-in model's greedy continuation, choosing from logits[:, position] of the cropped context."""
    ids = prompt
    for _ in range(n):
        ids = torch.cat([ids, (ids[:, -block_size:][:, position:][:, :1] + 1) % V], dim=1)
    return ids


def _other_positions(model, out, T):
    """With (near-)greedy sampling from the stand-in model: are the new ids predictions of the context's other
    positions (another row's, an earlier step's) rather than each row's last? A message, or None."""
    V, wrong = model.V, False
    for i, fed in enumerate(model.seen):
        if T + i >= out.size(1) or fed.dim() != 2 or fed.size(0) != out.size(0):
            return None
        new, predicted = out[:, T + i], (fed + 1) % V
        if not torch.isin(new, predicted).all():
            return None
        wrong |= bool((new != predicted[:, -1]).any())
    if not wrong:
        return None
    return ("the new ids are the next-token predictions of other positions than each row's last (another "
            "row's, or an earlier step's): pass only the last position's logits to sample_next, one row of V "
            "logits per sequence, shape (B, V) — not the logits of all positions (B × T of them)")


def _generate(c, prompt, n, what, model=None, **kwargs):
    model = _Stepper() if model is None else model
    try:
        out = c.call(model, prompt, n, **kwargs)
    except Fail as e:
        if "tuple indices" in str(e) or "'tuple' object" in str(e):
            raise Fail(f"{e} — model(ids) returns a pair (logits, weights): unpack it before taking the last "
                       "position's logits") from None
        sizes = re.search(r"must match except in dimension 1\. Expected size (\d+) but got size (\d+)", str(e))
        if "must have same number of dimensions" in str(e):
            raise Fail(f"{e} — sample_next returns shape (B,): make it a column (B, 1) before joining it to the "
                       "(B, T) ids") from None
        if sizes and sizes.group(2) == "1":
            raise Fail(f"{e} — the new ids have 1 row where the batch has {sizes.group(1)}: append one id per row "
                       "of the batch, as a column (B, 1), along dim=1") from None
        if sizes:
            raise Fail(f"{e} — the new ids have {sizes.group(2)} rows where the batch has {sizes.group(1)}: "
                       "give sample_next the last position's logits of every row, shape (B, V)") from None
        if "must match except in dimension 0" in str(e):
            raise Fail(f"{e} — append the new ids along the time axis (dim=1, as a column (B, 1)): along dim 0 "
                       "they would become new rows of the batch") from None
        raise
    B, T = prompt.shape
    if isinstance(out, (tuple, list)) and len(out) == 2 and isinstance(out[0], torch.Tensor):
        raise Fail(f"{what} returned a pair; return only the ids (B, T + max_new_tokens)")
    if isinstance(out, torch.Tensor) and out.dim() == 2 and out.shape != (B, T + n):
        got = tuple(out.shape)
        if got == (B, n):
            raise Fail(f"{what} has shape {got}: it returned only the new tokens; return the prompt followed "
                       "by them")
        if got[0] == B and got[1] in (T + n - 1, T + n + 1):
            raise Fail(f"{what} has shape {got}, expected {(B, T + n)}: one token too {'few' if got[1] < T + n else 'many'} "
                       "— the loop must run exactly max_new_tokens times")
        if got[0] == B and got[1] in (model.block_size, model.block_size + 1) and got[1] < T + n:
            raise Fail(f"{what} has shape {got}, expected {(B, T + n)}: the ids you return lost their beginning — "
                       "crop only what the model reads (a cropped copy under another name), and keep the whole "
                       "sequence")
        if got == (B, T):
            raise Fail(f"{what} has shape {got}: the new tokens never reach ids — append each one to the "
                       "sequence inside the loop, so the next step sees it")
        if got[0] == 1 and B > 1:
            raise Fail(f"{what} has shape {got}: only one row came back from a batch of {B} prompts — "
                       "generate for every row at once")
    out = c.tensor(out, shape=(B, T + n), what=what)
    if out.is_floating_point() or out.dtype == torch.bool:
        raise Fail(f"{what} has dtype {out.dtype}: token ids are integers (torch.long)")
    c.expect(torch.equal(out[:, :T], prompt), f"{what} does not start with the prompt: return the prompt "
             "unchanged, followed by the new tokens")
    seen, block = model.seen, model.block_size
    c.expect(len(seen) > 0, f"{what} never called the model")
    c.expect(not any(model.grad), f"{what} ran the model with gradients on: generation trains nothing — "
             "decorate it with @torch.no_grad(), or wrap the loop in `with torch.no_grad():`")
    for i, fed in enumerate(seen[:n]):
        full = out[:, :T + i]                                    # what the model should have read at step i
        want = full[:, -block:]
        if fed.dim() != 2 or fed.size(0) != B:
            raise Fail(f"at step {i} generate fed the model a tensor of shape {tuple(fed.shape)}: feed it "
                       f"(B, T) ids, all {B} rows at once")
        if fed.size(1) > block:
            raise Fail(f"at step {i} generate fed {fed.size(1)} tokens to a model with block_size={block}: a GPT "
                       "has positions for block_size tokens only — crop the context to the last block_size, along "
                       "the time axis (the last one; cropping axis 0 would cut the batch)")
        if fed.shape == want.shape and torch.equal(fed, want):
            continue
        if fed.size(1) == min(block, full.size(1)) and torch.equal(fed, full[:, :block]):
            raise Fail(f"at step {i} the model read the first {block} tokens of the sequence: crop to the last "
                       "block_size tokens (the most recent context), not the first")
        if fed.size(1) == 1 and full.size(1) > 1:
            raise Fail(f"at step {i} the model read only the last token: feed it the whole context, up to "
                       "block_size tokens — a GPT, unlike a bigram table, uses all of it")
        raise Fail(f"at step {i} the model was fed {tuple(fed.shape)} ids that are not the last "
                   f"min(T, block_size) = {want.size(1)} tokens of the sequence so far")
    return out


def _close_greedy(c, out, prompt, n, drawn, row0, what, axes):
    c.close(out, _greedy(prompt, n), mistakes={
        "the next token came from the first position's logits: the prediction for the next token is the "
        "last position's": _greedy(prompt, n, position=0),
        "the samples ignore the temperature (these are draws at temperature 1): pass temperature on to "
        "sample_next": drawn,
        "every row got the new tokens of row 0: draw one id per row and append each row's own": row0,
    }, what=what, axes=axes, hint="with a temperature near 0 each step must append each row's most likely next "
       "token: check which logits reach sample_next, and what else you pass it")


@exercise
def generate(c):
    """Checks generate(model, ids (B, T), max_new_tokens, temperature=1.0, top_k=None, generator=None)
    -> ids (B, T + max_new_tokens): feed the last model.block_size tokens, sample from the last position's
    logits with sample_next, append, repeat. Reference: course_lib.gpt.generate."""
    c.defaults(ref.generate)
    prompt = torch.tensor([[0, 3, 5, 2], [4, 4, 1, 7], [9, 10, 6, 8]])
    n = 5
    what = "generate(model, prompt (3, 4), 5, temperature=0.001)"          # ~greedy; 0 is no valid temperature
    seeded = lambda: torch.Generator().manual_seed(0)  # noqa: E731
    drawn = ref.generate(_Stepper(), prompt, n, generator=seeded())  # temperature 1, no top-k: what is left out
    row0 = torch.cat([prompt, _greedy(prompt[:1], n)[:, 4:].expand(len(prompt), -1)], dim=1)
    axes = ("batch", "position")
    model = _Stepper()
    out = _generate(c, prompt, n, what, model=model, temperature=0.001, generator=seeded())
    try:
        _close_greedy(c, out, prompt, n, drawn, row0, what, axes)
    except Fail as e:
        if str(e).startswith(what):                      # no named mistake: whose logits were sampled?
            raise Fail(_other_positions(model, out, prompt.size(1)) or str(e)) from None
        raise
    what = "generate(model, prompt (3, 4), 5, top_k=1)"
    out = _generate(c, prompt, n, what, top_k=1, generator=seeded())
    c.close(out, _greedy(prompt, n), mistakes={
        "the samples ignore top_k (with top_k=1 only the most likely token can be drawn): pass top_k on to "
        "sample_next": drawn,
    }, what=what, axes=axes, hint="with top_k=1 only each row's most likely next token can be drawn")
    rows = torch.arange(10000)[:, None] % 11                     # the last id of each of 10,000 prompts
    what = "generate(model, 10,000 one-token prompts, 1, temperature=2.0)"
    out = _generate(c, rows, 1, what, temperature=2.0, generator=seeded())

    def spread(temperature):  # P(next = i + 1), P(i + 2), P(anything else) at this temperature
        p = F.softmax(torch.tensor([3.0, 2.0] + [0.0] * 9) / temperature, 0)
        return torch.stack([p[0], p[1], p[2:].sum()]).double()

    step = (out[:, 1] - out[:, 0]) % 11
    freq = torch.stack([(step == 1).double().mean(), (step == 2).double().mean(),
                        ((step != 1) & (step != 2)).double().mean()])
    p1 = F.softmax(torch.tensor([3.0, 2.0] + [0.0] * 9), 0)
    p_soft = F.softmax(p1 / 2.0, 0)  # probabilities softmaxed once more, as if they were logits
    c.close(freq, spread(2.0), mistakes={
        "the temperature was applied twice (the logits divided by it, then sample_next divides again): "
        "sample_next does the dividing, so pass it the logits as they are": spread(4.0),
        "sample_next was given probabilities (a softmax) where it expects logits: it makes its own softmax, "
        "so pass it the logits as they are": torch.stack([p_soft[0], p_soft[1], p_soft[2:].sum()]).double(),
        "the samples ignore the temperature (these are draws at temperature 1): pass temperature on to "
        "sample_next": spread(1.0),
        "generate always returns the most likely token: draw the next token with sample_next, not argmax":
            torch.tensor([1.0, 0.0, 0.0], dtype=torch.float64),
    }, atol=0.03, rtol=0, what=f"the frequencies of the next token's step (+1, +2, other) in {what}",
        hint="each new id must be drawn from softmax(last logits / temperature)")
    runs = []
    for seed in (0, 0, 1):
        what = f"generate(model, prompt (3, 4), 8, top_k=2, generator seeded {seed})"
        runs.append(_generate(c, prompt, 8, what, top_k=2, generator=torch.Generator().manual_seed(seed)))
        step = (runs[-1][:, 4:] - runs[-1][:, 3:-1]) % 11
        c.expect(bool(((step == 1) | (step == 2)).all()), f"{what} drew tokens that top_k=2 excludes: each new "
                 "token must be one of the two most likely after the sequence so far")
    c.expect(torch.equal(runs[0], runs[1]), "two calls with identically seeded generators gave different tokens: "
             "pass generator on to sample_next, so that a seed gives the same text")
    c.expect(not torch.equal(runs[0], runs[2]) and not torch.equal(runs[0], _greedy(prompt, 8)),
             "generate always returns the most likely tokens: sample the next token (sample_next), not argmax")
