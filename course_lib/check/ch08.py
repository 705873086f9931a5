"""Exercise checks for chapter 08 (encoder-decoder): one head of cross-attention, the greedy decoding loop."""
import itertools
import math
import re

import torch
import torch.nn.functional as F

from .. import attention
from .. import seq2seq as ref
from . import _modules as m
from ._core import Fail, exercise

__all__ = ["cross_attention", "DecoderBlock", "greedy_decode"]


def _softmax_masked(scores, mask):
    return torch.softmax(scores.masked_fill(~mask, float("-inf")), dim=-1)


@exercise
def cross_attention(c):
    """Checks cross_attention(x (B, T, d), memory (B, S, d), src_real (B, S) bool, Wq, Wk, Wv (d, d_k))
    -> (out (B, T, d_k), weights (B, T, S)). Reference: course_lib.seq2seq.cross_attention."""
    c.reference = ref.cross_attention
    g = torch.Generator().manual_seed(0)
    B, T, S, d, dk = 2, 3, 5, 8, 4
    x, memory = torch.randn(B, T, d, generator=g), torch.randn(B, S, d, generator=g)
    Wq, Wk, Wv = (torch.randn(d, dk, generator=g) for _ in range(3))
    src_real = torch.tensor([[True] * 4 + [False], [True, True, True, False, False]])  # each padded its own way

    try:
        out = c.call(x, memory, src_real, Wq, Wk, Wv)
    except Fail as e:
        if not any(clash in str(e) for clash in ("must match the size", "cannot be multiplied",
                                                 "first two dimensions of batch2")):
            raise
        raise Fail(_sizes_mixed(c, e, B, S, d, Wq, Wk, Wv)) from None
    if not isinstance(out, (tuple, list)) or len(out) != 2:
        raise Fail(f"return two things, (out, weights); got {type(out).__name__}"
                   + (f" of length {len(out)}" if isinstance(out, (tuple, list)) else ""))
    got, weights = out
    if isinstance(got, torch.Tensor) and isinstance(weights, torch.Tensor) and got.shape == (B, T, S) \
            and weights.shape == (B, T, dk):
        raise Fail("your first result has the shape of the weights (B, T, S) and the second the shape of out "
                   "(B, T, d_k): did you swap them? return (out, weights)")
    if isinstance(got, torch.Tensor) and got.dim() == 3 and got.shape[:2] == (B, S):
        raise Fail(f"out has one row per INPUT position (shape {tuple(got.shape)}): the queries must come "
                   "from the decoder (x @ Wq); only the keys and values come from the encoder's memory")
    if isinstance(weights, torch.Tensor) and weights.shape == (B, T, T):
        raise Fail(f"weights has shape {(B, T, T)}: the decoder's positions against themselves — in cross-attention "
                   "the keys and values come from the encoder's memory (S positions), only the queries from x")
    if isinstance(weights, torch.Tensor) and weights.shape == (B, S, T):
        raise Fail("weights has shape (B, S, T); it must be (B, T, S): rows = output positions (queries), "
                   "columns = input positions (keys) — hint: the queries go on the left of the product, the "
                   "transposed keys on the right")
    q, k = x @ Wq, memory @ Wk
    scores = q @ k.transpose(-2, -1) / math.sqrt(dk)
    mask = src_real[:, None, :]
    over_queries = torch.softmax(scores.masked_fill(~mask, float("-inf")), dim=1)
    wrong_axis = ("the softmax ran over the output positions (dim 1); each row (one query) must sum to 1 over "
                  "the input positions (dim -1)")
    masked_real = torch.softmax(scores.masked_fill(mask, float("-inf")), dim=-1)
    masked_real_msg = ("you masked the real tokens: src_real is True for REAL input positions, so the positions "
                       "to hide are ~src_real (the padding)")
    if isinstance(weights, torch.Tensor) and weights.shape == (B, T, S) and weights.is_floating_point() \
            and torch.isnan(weights).any():
        for message, wrong in ((wrong_axis, over_queries), (masked_real_msg, masked_real)):
            if torch.equal(weights.isnan(), wrong.isnan()) and \
                    torch.allclose(weights.nan_to_num(), wrong.nan_to_num(), atol=1e-5):
                raise Fail(message)
    if isinstance(got, torch.Tensor) and got.shape == (B, T, d):
        raise Fail(f"out has the model width d={d}, not d_k={dk}: the values must be projected too "
                   "(with Wv)")
    got = c.tensor(got, shape=(B, T, dk), what="out")
    weights = c.tensor(weights, shape=(B, T, S), what="weights")

    expected_out, expected_w = ref.cross_attention(x, memory, src_real, Wq, Wk, Wv)
    after = torch.softmax(scores, -1) * mask
    causal = mask & torch.ones(T, S, dtype=torch.bool).tril()
    wrong_weights = {
        "padding got attention weight: set the scores of padded input positions (src_real False) to -inf "
        "before the softmax": torch.softmax(scores, -1),
        "you forgot to divide the scores by sqrt(d_k)": _softmax_masked(q @ k.transpose(-2, -1), mask),
        "you applied a causal mask: in cross-attention every output position may read the WHOLE input "
        "(only padding is hidden)": _softmax_masked(scores, causal),
        wrong_axis: over_queries,
        wrong_axis + " ": torch.softmax(scores.masked_fill(~mask, -1e9), dim=1),
        masked_real_msg: torch.softmax(scores.masked_fill(mask, -1e9), dim=-1),
        "you zeroed the padded weights after the softmax, so the rows no longer sum to 1: mask the scores "
        "with -inf BEFORE the softmax": after,
        "you divided by sqrt(d) of the model width instead of sqrt(d_k) of the queries and keys":
            _softmax_masked(q @ k.transpose(-2, -1) / math.sqrt(d), mask),
        "you multiplied the scores by src_real: that gives padding a score of 0, which still gets weight exp(0) "
        "after the softmax — mask with -inf instead (masked_fill where src_real is False), so that padding gets "
        "weight exp(-inf) = 0": torch.softmax(scores * mask, -1),
        "Wq and Wk have swapped roles: the queries are x @ Wq (the decoder asks), the keys memory @ Wk (the "
        "memory answers) — yours projects the memory with Wq and x with Wk":
            _softmax_masked((x @ Wk) @ (memory @ Wq).transpose(-2, -1) / math.sqrt(dk), mask),
        "you divided the scores by d_k instead of its square root, sqrt(d_k)":
            _softmax_masked(q @ k.transpose(-2, -1) / dk, mask),
        "every batch element got the padding mask of the first one: each input has its own padding, one row of "
        "src_real per batch element": _softmax_masked(scores, src_real[:1, None, :]),
    }
    c.close(weights, expected_w, mistakes=wrong_weights, what="weights",
            hint="queries come from x, keys from the memory; scale the scores, hide the padded input positions, "
                 "then softmax over the input positions")
    c.close(got, expected_out, mistakes={
        "out uses the keys as values: the values are the memory projected with Wv, not with Wk": expected_w @ k,
    }, what="out", hint="the values come from the memory, like the keys")

    real_all = torch.ones(B, S, dtype=torch.bool)
    out2 = c.call(x, memory, real_all, Wq, Wk, Wv)
    if not isinstance(out2, (tuple, list)) or len(out2) != 2:
        raise Fail("return (out, weights) every time")
    ref2 = ref.cross_attention(x, memory, real_all, Wq, Wk, Wv)
    c.close(c.tensor(out2[1], shape=(B, T, S), what="weights without padding"), ref2[1], what="weights without "
            "padding", hint="with no padding every input position may be attended")

    big = memory * 1e3
    out3 = c.call(x, big, src_real, Wq, Wk, Wv)
    if not isinstance(out3, (tuple, list)) or len(out3) != 2:
        raise Fail("return (out, weights) every time")
    w3 = out3[1]
    big_scores = (x @ Wq) @ (big @ Wk).transpose(-2, -1) / math.sqrt(dk)
    renormalised = torch.softmax(big_scores, -1) * mask
    renormalised = renormalised / renormalised.sum(-1, keepdim=True)
    if isinstance(w3, torch.Tensor) and w3.shape == (B, T, S) and w3.is_floating_point() and torch.isnan(w3).any() \
            and torch.isnan(renormalised).any() and torch.equal(w3.isnan(), renormalised.isnan()) \
            and torch.allclose(w3.nan_to_num(), renormalised.nan_to_num(), atol=1e-4):
        raise Fail("with large scores your weights contain NaN: you zeroed the padding after the softmax and "
                   "renormalised, but when all the weight sits on padding that is 0 / 0 — mask the scores "
                   "with -inf before the softmax instead")
    if isinstance(w3, torch.Tensor) and w3.is_floating_point() and torch.isnan(w3).any():
        raise Fail("with large scores your weights contain NaN: use torch.softmax (it subtracts the row "
                   "maximum) instead of exp() / sum")
    c.close(c.tensor(w3, shape=(B, T, S), what="weights for large inputs"),
            ref.cross_attention(x, big, src_real, Wq, Wk, Wv)[1], atol=1e-4, what="weights for large inputs",
            hint="use torch.softmax, which is stable for large scores")


def _sizes_mixed(c, error, B, S, d, Wq, Wk, Wv):
    """The student's function failed on T = 3 queries against S = 5 keys: run it once more with T = S, where
    the sizes cannot clash, and say which tensor came from the wrong side (or what the sizes mean)."""
    g = torch.Generator().manual_seed(1)
    x, memory = torch.randn(B, S, d, generator=g), torch.randn(B, S, d, generator=g)
    real = torch.tensor([[True] * (S - 1) + [False], [True] * 2 + [False] * (S - 2)])
    q, k = x @ Wq, memory @ Wk
    scale = math.sqrt(Wq.size(1))
    rows = ("your padding mask lines up with the queries (the rows of the T × S scores), not with the keys: "
            "src_real marks input positions, the columns — give it a size-1 axis for the queries")
    known = [("the keys come from the decoder (x): in cross-attention the keys and values come from the memory, "
              "only the queries from x", _softmax_masked(q @ (x @ Wk).transpose(-2, -1) / scale, real[:, None, :]))]
    known += [(rows, torch.softmax((q @ k.transpose(-2, -1) / scale).masked_fill(~real[:, :, None], fill), dim=-1))
              for fill in (float("-inf"), -1e9)]
    try:
        out = c.fn(x, memory, real, Wq, Wk, Wv)
        got, weights = out if isinstance(out, (tuple, list)) and len(out) == 2 else (None, None)
    except Exception:
        got, weights = None, None
    right = _softmax_masked(q @ k.transpose(-2, -1) / scale, real[:, None, :])
    if isinstance(weights, torch.Tensor) and isinstance(got, torch.Tensor) and weights.shape == right.shape and \
            torch.allclose(weights.double(), right.double(), atol=1e-4) and got.shape == (B, S, Wv.size(1)) and \
            torch.allclose(got.double(), (right @ (x @ Wv)).double(), atol=1e-4):
        raw = str(error).split(" — ")[0]  # PyTorch's text, without the generic guess about a transpose
        return (f"{raw} — your weights are right, but the values come from the decoder (x): the weights (T × S) mix "
                "the S input positions, so the values, like the keys, come from the memory")
    for message, wrong in known:
        if isinstance(weights, torch.Tensor) and weights.shape == wrong.shape and weights.is_floating_point() and \
                torch.allclose(weights.double(), wrong.double(), atol=1e-4, equal_nan=True):
            return f"{error} — {message}"
    return (f"{error} — the decoder's size T = 3 met the memory's S = {S}: queries come from x (T rows), keys, "
            "values and the padding mask from the memory side (S)")


class _CopyModel(torch.nn.Module):
    """A stand-in encoder-decoder whose greedy output is known: it copies the input, then ends.

    decode(tgt, memory, src_real): position t predicts memory[:, t] while t < the input's length, then EOS.
    It records the decoder inputs it was given, so the check can say how a loop went wrong.
    """

    V, BOS, EOS, PAD = 12, 2, 3, 0

    def __init__(self):
        super().__init__()
        self.calls = []

    def encode(self, src, src_real, need_weights=False):
        return src, None

    def decode(self, tgt, memory, src_real, need_weights=False):
        self.calls.append(tgt.detach().clone())
        B, T = tgt.shape
        lengths = src_real.sum(dim=1)
        pos = torch.arange(T, device=tgt.device)[None, :].expand(B, T)
        beyond = torch.full((B, T), self.EOS, device=tgt.device)            # positions beyond S -> EOS
        padded = torch.cat([memory, beyond], dim=1)
        wanted = torch.where(pos < lengths[:, None], padded.gather(1, pos.clamp(max=padded.size(1) - 1)),
                             torch.full_like(pos, self.EOS))
        return torch.nn.functional.one_hot(wanted, self.V).float() * 10.0, None

    def forward(self, src, src_real, tgt, need_weights=False):
        return self.decode(tgt, self.encode(src, src_real)[0], src_real)


DECODER_LAYOUT = ("ln1, ln2, ln3 = three nn.LayerNorm(d_model); self_attn and cross_attn = two "
                  "MultiHeadAttention(d_model, n_heads, dropout); ff = nn.Sequential(nn.Linear(d_model, 4 * d_model), "
                  "nn.GELU(), nn.Linear(4 * d_model, d_model)); dropout = nn.Dropout(dropout)")


def _decoder_block(b, x, memory, src_mask, *, pre=True, residual=(True, True, True), cross_first=False,
                   self_mask="causal", cross_mask=True, cross_context="memory", norms=(1, 2, 3), norm_memory=False,
                   act=F.gelu, stream="kept", cross_module="cross_attn"):
    """The reference decoder block `b` (its weights) computed with one of the usual mistakes. norms: which
    layer norm (1, 2, 3 = ln1, ln2, ln3) each sub-layer in turn reads; cross_first: True (the first sub-layer
    reads ln1) or "own norms" (each attention keeps its layer norm); stream: "stale" (the cross-attention's
    residual adds to the block's input) or "cross reads input" (the cross-attention reads ln2 of the input)."""
    T = x.size(1)
    masks = {"causal": attention.causal_mask(T), "none": None,
             "future": torch.ones(T, T, dtype=torch.bool).triu(1)}
    attend = lambda a, t, context=None, mask=None: a(t, context=context, mask=mask, need_weights=True)[0]  # noqa: E731
    lns = {1: b.ln1, 2: b.ln2, 3: b.ln3}
    n1, n2, n3 = (lns[i] for i in norms)

    def self_part(t, raw):
        return attend(b.self_attn, t, mask=masks[self_mask])

    def cross_part(t, raw):
        if cross_context == "memory":
            mask = src_mask if cross_mask else None
            if cross_mask == "causal too":  # the decoder's causal mask laid over the T × S cross scores
                lower = torch.ones(T, memory.size(1), dtype=torch.bool).tril()
                mask = lower if src_mask is None else src_mask & lower
            return attend(getattr(b, cross_module), t, context=b.ln2(memory) if norm_memory else memory, mask=mask)
        context = t if cross_context.startswith("self") else raw  # context left out, or context=x
        return attend(b.cross_attn, t, context=context, mask=None if "no mask" in cross_context else masks["causal"])

    def ff(t, raw):
        return b.ff[2](act(b.ff[0](t)))
    steps = [(self_part, n1), (cross_part, n2), (ff, n3)]
    if cross_first == "own norms":
        steps[0], steps[1] = (cross_part, n2), (self_part, n1)
    elif cross_first:
        steps[0], steps[1] = (cross_part, n1), (self_part, n2)
    given = x
    for i, ((sub, norm), keep) in enumerate(zip(steps, residual)):
        if pre and i == 1 and stream == "stale":
            x = given + sub(norm(x), x)
        elif pre and i == 1 and stream == "cross reads input":
            x = x + sub(norm(given), given)
        elif pre:
            x = x + sub(norm(x), x) if keep else sub(norm(x), x)
        else:
            x = norm(x + sub(x, x)) if keep else norm(sub(x, x))
    return x


_SUBLAYERS = ("the self-attention", "the cross-attention", "the feed-forward network")


def _norm_mistakes():
    """Every other assignment of ln1, ln2, ln3 to the three sub-layers, with a message naming the wrong ones."""
    found = {}
    for norms in itertools.product((1, 2, 3), repeat=3):
        if norms == (1, 2, 3):
            continue
        wrong = [f"{_SUBLAYERS[i]} reads ln{n}(x)" for i, n in enumerate(norms) if n != i + 1]
        if norms == (2, 1, 3):
            text = "ln1 and ln2 are swapped: ln1 belongs to the self-attention, ln2 to the cross-attention"
        else:
            text = (f"{' and '.join(wrong)}: each sub-layer has its own layer norm — ln1 for the self-attention, "
                    "ln2 for the cross-attention, ln3 for the feed-forward network")
        found[text] = dict(norms=norms)
    return found


_DECODER_MISTAKES = {
    "the layer norms come after the additions (post-LN); this decoder is pre-LN, like GPT: each sub-layer "
    "reads ln(x) and adds its output to x": dict(pre=False),
    "the residual connection around the self-attention is missing": dict(residual=(False, True, True)),
    "the residual connection around the cross-attention is missing: add its output to x, so that what the "
    "decoder wrote so far is kept": dict(residual=(True, False, True)),
    "the residual connection around the feed-forward network is missing": dict(residual=(True, True, False)),
    "the cross-attention comes before the self-attention: first the output so far (self-attention, ln1), then "
    "the input (cross-attention, ln2), then ff (ln3)": dict(cross_first=True),
    "the cross-attention comes before the self-attention: the sub-layers run in the order self-attention (ln1), "
    "cross-attention (ln2), feed-forward (ln3) — first what was written so far, then the input":
        dict(cross_first="own norms"),
    "the cross-attention's output is added to the block's input, not to x as the self-attention's residual "
    "left it: the self-attention's contribution is lost — each residual adds to the x the previous sub-layer "
    "left": dict(stream="stale"),
    "the cross-attention reads ln2 of the block's input: it must read x as the self-attention's residual left "
    "it (x + self-attention), normalised by ln2": dict(stream="cross reads input"),
    "the self-attention has no causal mask: each output position sees the characters after it — during "
    "training that is the answer": dict(self_mask="none"),
    "the causal mask is the wrong way round: True must mark the keys a position MAY attend to (itself and the "
    "earlier ones); yours lets each position see only the later ones": dict(self_mask="future"),
    "the padding mask does not reach the cross-attention: pass mask=src_mask with the memory": dict(cross_mask=False),
    "the cross-attention got a causal mask too: every output position may read the whole input (only its "
    "padding is masked); the causal mask belongs to the self-attention alone": dict(cross_mask="causal too"),
    "self.self_attn also does the cross-attention: the block has two attention layers, and the one that "
    "reads the memory is self.cross_attn": dict(cross_module="self_attn"),
    "the cross-attention does not read the memory: its keys and values must come from the encoder's output "
    "(context=memory), only its queries from the decoder": dict(cross_context="x"),  # context=x
    "the cross-attention does not read the memory, and without a mask its positions see the future: the keys "
    "and values must come from the encoder's output (context=memory)": dict(cross_context="x, no mask"),
    "the cross-attention does not read the memory: without context= it attends to ln2(x) itself, a second "
    "self-attention — its keys and values must come from the encoder's output (context=memory)":
        dict(cross_context="self"),
    "the cross-attention does not read the memory: without context= it attends to ln2(x) itself, and without a "
    "mask it sees the future — its keys and values must come from the encoder's output (context=memory)":
        dict(cross_context="self, no mask"),
    **_norm_mistakes(),
    "the memory went through ln2 as well: only the decoder's queries are normalised here, the memory comes "
    "from the encoder already normalised (its final layer norm) — pass it as it is": dict(norm_memory=True),
    "the feed-forward network has no GELU between its two linear layers": dict(act=lambda t: t),
    "the feed-forward network uses ReLU; the exercise uses GELU": dict(act=F.relu),
}


@exercise
def DecoderBlock(c):
    """Checks the class DecoderBlock(d_model, n_heads, dropout=0.0): forward(x (B, T, d), memory (B, S, d),
    src_mask (B, 1, 1, S) or None, need_weights=False) -> (x (B, T, d), (self weights (B, h, T, T), cross
    weights (B, h, T, S)) or (None, None)); pre-LN: x + self_attn(ln1 x) with the causal mask, x +
    cross_attn(ln2 x, context=memory, mask=src_mask), x + ff(ln3 x). Reference: course_lib.seq2seq.DecoderBlock."""
    c.defaults(ref.DecoderBlock)
    cls = c.fn
    real = torch.tensor([[True] * 4, [True] * 2 + [False] * 2])
    for seed, (B, T, S, d, h, src_real) in enumerate(((2, 5, 4, 16, 4, real), (1, 3, 6, 8, 2, None))):
        src_mask = None if src_real is None else attention.padding_mask(src_real)
        theirs = m.randomize(ref.DecoderBlock(d, h), seed).eval()
        mine = m.load(c, m.build(c, cls, d, h), theirs, DECODER_LAYOUT)
        g = torch.Generator().manual_seed(seed)
        x, memory = torch.randn(B, T, d, generator=g), torch.randn(B, S, d, generator=g)
        what = f"DecoderBlock({d}, {h}) on x {(B, T, d)}, memory {(B, S, d)}" + (
            " with a padding mask" if src_mask is not None else "")
        with torch.no_grad():
            try:
                out, w = m.pair(c, m.forward(c, mine, x, memory, src_mask, need_weights=True, what=what), what,
                                second="(self weights, cross weights)")
            except Fail as e:
                if "must match the size" in str(e):
                    raise Fail(f"{e} — the sizes T (the output so far) and S (the input) got mixed: the causal "
                               "mask (T × T) belongs to the self-attention; the cross-attention takes its queries "
                               "from ln2(x) and its keys and values from the memory, with the padding mask "
                               "src_mask (… × S)") from None
                raise
            if isinstance(out, torch.Tensor) and tuple(out.shape) == (B, S, d):
                raise Fail(f"the output of {what} has shape {(B, S, d)}, one row per input position: the "
                           "cross-attention's queries come from the decoder (ln2(x)), its keys and values from "
                           "the memory (context=)")
            out = c.tensor(out, shape=(B, T, d), dtype=torch.float32, what=f"the output of {what}")
            want, (want_self, want_cross) = theirs(x, memory, src_mask, need_weights=True)
            mistakes = {msg: _decoder_block(theirs, x, memory, src_mask, **kw) for msg, kw in _DECODER_MISTAKES.items()
                        if src_mask is not None or "padding" not in msg}
            c.name_mistake(out, want, mistakes)                          # a known mistake first, then where
            m.future_probe(c, lambda t: mine(t, memory, src_mask)[0], x, what=f"the output of {what}")
            if src_real is not None:
                m.padding_probe(c, lambda mem: mine(x, mem, src_mask)[0], memory, src_real,
                                what=f"the output of {what}", queries=torch.ones(B, T, dtype=torch.bool))
            c.close(out, want, what=f"the output of {what}",
                    hint="three pre-LN sub-layers, each added to x: causal self-attention, cross-attention to "
                         "the memory, feed-forward")
            if not isinstance(w, (tuple, list)) or len(w) != 2:
                raise Fail(f"{what} must return (x, (self weights, cross weights)); the second item is "
                           f"{type(w).__name__}")
            self_w, cross_w = w
            if self_w is None or cross_w is None:
                raise Fail(f"{what} returned no weights with need_weights=True: pass need_weights on to both "
                           "attentions and return (self weights, cross weights)")
            if all(isinstance(t, torch.Tensor) and t.shape == u.shape and torch.allclose(t, u, atol=1e-5)
                   for t, u in ((self_w, want_cross), (cross_w, want_self))):
                raise Fail(f"in what {what} returns, the weights are in the wrong order: self-attention's "
                           "first, then cross-attention's — return (x, (self weights, cross weights))")
            c.close(c.tensor(self_w, shape=(B, h, T, T), what=f"the self-attention weights of {what}"), want_self,
                    what=f"the self-attention weights of {what}", hint="return self_attn's weights unchanged")
            c.close(c.tensor(cross_w, shape=(B, h, T, S), what=f"the cross-attention weights of {what}"),
                    want_cross, what=f"the cross-attention weights of {what}",
                    hint="return cross_attn's weights unchanged, (B, h, T, S)")
    theirs = m.randomize(ref.DecoderBlock(16, 4), 5).eval()
    mine = m.load(c, m.build(c, cls, 16, 4), theirs, DECODER_LAYOUT)
    g = torch.Generator().manual_seed(5)
    x, memory = torch.randn(2, 5, 16, generator=g), torch.randn(2, 4, 16, generator=g)
    m.device_probe(c, mine, x, memory, what="DecoderBlock's forward")
    m.dropout_probe(c, lambda p: m.load(c, m.build(c, cls, 16, 4, p), theirs, DECODER_LAYOUT),
                    lambda b: b(x, memory)[0], what="DecoderBlock")
    m.dropout_calls(c, mine, lambda b: b(x, memory), 3, what="DecoderBlock",
                    where="to each of the three sub-layers' outputs, before it is added")
    m.gradient_probe(c, mine.train(), theirs.train(), lambda b: b(x, memory)[0], what="DecoderBlock")


def _rows(ix):
    return f"row{'s' * (len(ix) > 1)} {', '.join(map(str, ix))}"


def _greedy_story(out, want, eos, pad, max_len, steps):
    """What went wrong in a greedy result, told by comparing it row by row with the right one (B, m): rows
    cut short, end tokens missing, rows not padded after their end, the loop stopping early or late — or None.
    steps: how many times the loop called the decoder."""
    B, n = out.shape
    m = want.size(1)
    if out.shape == want.shape and torch.equal(out, want):
        return None
    ends = [int((want[r] == eos).nonzero()[0]) + 1 if (want[r] == eos).any() else m for r in range(B)]
    if B > 1 and bool((out == out[:1]).all()) and not bool((want == want[:1]).all()):
        return ("every row got the tokens of row 0: the next token is chosen for each row, from that row's "
                "logits (an argmax over the vocabulary axis, dim=-1, for the whole batch at once)")
    if n > m and torch.equal(out[:, :m], want):
        if n > max_len:
            return (f"your result has {n} tokens, more than max_len = {max_len}: at most max_len tokens are "
                    "generated (the begin token does not count)")
        if bool((out[:, m:] == pad).all()):
            calls = f" ({steps} calls to the decoder{', all max_len steps' if steps >= max_len else ''})" if steps else ""
            return (f"your loop went on for {n - m} step{'s' * (n - m > 1)} after every row had ended{calls}: "
                    "stop as soon as all are done")
    if n < m and torch.equal(out, want[:, :n]):
        cut = [r for r in range(B) if ends[r] > n]
        if m == max_len and n == max_len - 1:
            return (f"your result has max_len − 1 = {n} tokens although {_rows(cut)} had not ended: up to max_len "
                    "tokens are generated — the begin token does not count against max_len")
        ended = [r for r in range(B) if ends[r] == n]
        if ended == [0] and min(ends) == n:
            return (f"your loop stops when row 0 has produced its end token: {_rows(cut)} were still being "
                    "written — stop only when every row has ended")
        if ended and min(ends) == n:
            return (f"your loop stopped when the first row to finish ({_rows(ended)}) produced its end token: "
                    f"{_rows(cut)} were still being written — stop only when ALL rows have ended (done.all(), "
                    "not done.any())")
    lost, short, unpadded, half_padded, other = [], [], [], [], []
    for r in range(B):
        w, o = want[r, :ends[r]], out[r]
        k = len(w)
        if len(o) >= k and torch.equal(o[:k], w):
            rest = o[k:]
            if bool((rest != pad).any()):
                (half_padded if bool((rest == pad).any()) else unpadded).append(r)
        elif w[-1] == eos and len(o) >= k - 1 and torch.equal(o[:k - 1], w[:-1]):
            (short if len(o) == k - 1 else lost if o[k - 1] == pad else other).append(r)
        else:
            other.append(r)
    parts = []
    if lost:
        parts.append(f"{_rows(lost)} lost {'their' if len(lost) > 1 else 'its'} end token (it became [PAD]): keep "
                     "eos_id in each row — if you mark a row as done before padding the new tokens, its own end "
                     "token is overwritten; pad with the old `done`, then update it")
    if short:
        parts.append(f"{_rows(short)} {'have' if len(short) > 1 else 'has'} no end token: your loop stopped before "
                     "appending the token that ended the last row — append the new tokens first, then test whether "
                     "every row is done")
    if unpadded:
        after = out[unpadded[0], ends[unpadded[0]]:][:4].tolist()
        parts.append(f"after its end token, {_rows(unpadded)} hold{'s' * (len(unpadded) == 1)} more predictions "
                     f"({after} …): after a sequence has produced its end token, fill the rest of its row with [PAD] "
                     "(id 0)")
    if half_padded:
        after = out[half_padded[0], ends[half_padded[0]]:][:6].tolist()
        parts.append(f"after its end token, {_rows(half_padded)} hold{'s' * (len(half_padded) == 1)} {after}, "
                     "[PAD] at some steps and predictions at others: once a row has ended it stays done — its "
                     "done flag must never be reset (update it with |=)")
    if other:
        r = other[0]
        t = int((out[r, :min(n, m)] != want[r, :min(n, m)]).nonzero()[0]) if bool(
            (out[r, :min(n, m)] != want[r, :min(n, m)]).any()) else min(n, m)
        parts.append(f"{_rows(other)} differ{'s' * (len(other) == 1)} from the greedy result"
                     + (f", row {r} from position {t} on" if t < min(n, m) else f", row {r} in its length")
                     + (f" (yours {out[r, t].item()}, expected {want[r, t].item()})" if t < min(n, m) else ""))
    return "; ".join(parts) or None


def _greedy_call(c, model, src, src_real, max_len):
    """Run the student's loop; (out, weights) like the library's version is fine too."""
    try:
        out = c.call(model, src, src_real, model.BOS, model.EOS, max_len)
    except Fail as e:
        if re.search(r"cannot be converted to Scalar|only one element tensors|Boolean value of Tensor", str(e)):
            raise Fail(f"{e} — your loop treats the batch as one sequence: with B rows, keep one done flag per row "
                       "and stop when all of them are set") from None
        raise
    if isinstance(out, (tuple, list)) and len(out) == 2 and isinstance(out[0], torch.Tensor):
        out = out[0]
    return out


def _greedy_probes(c, out, src, src_real, max_len, want, what):
    """A wrong result on the copy model: is it what decoding gives when every source position counts as real
    (src_real not passed on), or does it change from one call to the next (sampling)?"""
    B = _CopyModel
    all_real = ref.greedy_decode(_CopyModel(), src, torch.ones_like(src_real), B.BOS, B.EOS, max_len)[0]
    if not torch.equal(all_real, want) and out.shape == all_real.shape and torch.equal(out, all_real):
        raise Fail(f"{what} is what decoding gives when every input position counts as real: src_real is not "
                   "passed on, so the padded source positions get attention — hand the src_real you were given "
                   "to model.encode and to every model.decode")
    try:
        again = _greedy_call(c, _CopyModel(), src, src_real, max_len)
    except Fail:
        return
    if isinstance(again, torch.Tensor) and not (again.shape == out.shape and torch.equal(again.long(), out)):
        raise Fail(f"{what} changes from one call to the next: greedy decoding takes the most likely token at "
                   "every step (an argmax over the vocabulary) — it does not sample")


@exercise
def greedy_decode(c):
    """Checks greedy_decode(model, src, src_real, bos_id, eos_id, max_len) -> out (B, n) long: the generated
    tokens without the begin token, the end token included, [PAD] (id 0) after a sequence's end token, stopping
    when every sequence has ended or after max_len tokens.
    Reference: course_lib.seq2seq.greedy_decode (its first return value)."""
    c.defaults(ref.greedy_decode)
    model = _CopyModel()
    src = torch.tensor([[5, 6, 7, 8], [9, 10, 0, 0], [11, 0, 0, 0]])
    src_real = src != 0
    expected = torch.tensor([[5, 6, 7, 8, 3], [9, 10, 3, 0, 0], [11, 3, 0, 0, 0]])

    out = _greedy_call(c, model, src, src_real, 8)
    calls = model.calls
    if isinstance(out, torch.Tensor) and out.dim() == 2 and out.size(0) == 3 and out.size(1) == 6 \
            and bool((out[:, 0] == model.BOS).all()):
        raise Fail("your result starts with the begin token: return only the generated tokens (drop column 0)")
    c.expect(len(calls) > 0, "your function never called model.decode (or model(...)) to get the next-token logits")
    c.expect(bool((calls[0][:, 0] == model.BOS).all()), "the first decoder input must be the begin token "
             "(bos_id) for every sequence, shape (B, 1)")
    out = c.tensor(out, what="your result")
    if out.is_floating_point() or out.dtype == torch.bool:
        raise Fail(f"your result has dtype {out.dtype}: return token ids (torch.long) — hint: argmax gives longs")
    if len(calls) > 1 and all(t.size(1) == 1 for t in calls):
        raise Fail("every call fed the decoder a single token: feed everything generated so far, "
                   "[bos, y1, …, yt], and read the logits at the last position")
    if out.dim() == 2 and out.size(0) == 3 and out.size(1) >= 2 and bool((out[:, 1:] == out[:, :1]).all()) \
            and len(calls) > 1 and calls[-1].size(1) > 1:
        raise Fail("you took the logits of the first position (logits[:, 0]) every time: the next token comes "
                   "from the last position, logits[:, -1]")
    hint = ("encode once; at each step decode everything written so far, take the most likely next token of the "
            "last position, append it, and stop when every row has ended")
    cases = [("your result", src, src_real, 8, expected),
             ("your result when row 0 ends first", src[[2, 0, 1]], src_real[[2, 0, 1]], 8, expected[[2, 0, 1]]),
             ("your result with max_len=3", src, src_real, 3, expected[:, :3])]
    for what, s, real, max_len, want in cases:
        if what != "your result":
            model = _CopyModel()
            out = c.tensor(_greedy_call(c, model, s, real, max_len), what=what)
        if out.dim() == 2 and out.size(0) == want.size(0) and not out.is_floating_point() and \
                not (out.shape == want.shape and torch.equal(out.long(), want)):
            _greedy_probes(c, out.long(), s, real, max_len, want, what)
            story = _greedy_story(out.long(), want, model.EOS, model.PAD, max_len, len(model.calls))
            if story:
                raise Fail(story if what == "your result" else f"{what}: {story}")
        c.close(out, want, what=what, hint=hint)

    torch.manual_seed(0)
    real = ref.Seq2Seq(12, max_len=16, d_model=16, n_heads=2, n_layers=1).eval()
    src = torch.randint(5, 12, (2, 5))
    src_real = torch.ones(2, 5, dtype=torch.bool)
    got = c.call(real, src, src_real, 2, 3, 6)
    if isinstance(got, (tuple, list)) and len(got) == 2 and isinstance(got[0], torch.Tensor):
        got = got[0]
    want = ref.greedy_decode(real, src, src_real, 2, 3, 6)[0]
    got = c.tensor(got, what="your result on a real (untrained) model")
    if not torch.equal(got, want):
        again = c.call(real, src, src_real, 2, 3, 6)
        again = again[0] if isinstance(again, (tuple, list)) and len(again) == 2 else again
        if isinstance(again, torch.Tensor) and not torch.equal(again, got):
            raise Fail("your result changes from one call to the next: greedy decoding takes the most likely "
                       "token at every step (an argmax over the vocabulary) — it does not sample")
        if got.dim() == 2 and got.size(0) == want.size(0) and not got.is_floating_point():
            story = _greedy_story(got.long(), want, 3, 0, 6, 0)
            if story:
                raise Fail(f"your result on a real (untrained) model is wrong: {story}")
    got = c.tensor(got, shape=tuple(want.shape), what="your result on a real (untrained) model")
    c.close(got, want, what="your result on a real (untrained) model",
            hint="greedy means the single most likely token at every step, no sampling; feed the decoder "
            "everything generated so far")
