"""Architecture diagrams for the chapters, drawn with plain matplotlib: boxes, arrows and text.

One function per diagram, with the chapter's own sizes as defaults. Shapes use the course's names:
B batch, T tokens, S source length, d_model, h heads, d_head = d_model // h. Every kind of part has one
colour in every diagram: embeddings blue, attention orange, feed-forward green, layer norm yellow, other
linear layers purple, the RNN cell red, tensors grey, residual additions ⊕ white. Small grey text next to
a box is the attribute name of that part in course_lib. Every function draws one figure and returns None.
"""
from typing import NamedTuple

import matplotlib.pyplot as plt
from matplotlib.patches import Circle, FancyArrowPatch, FancyBboxPatch
from matplotlib.path import Path

from . import plot

COLORS = {"tensor": "#eeeeee", "embed": "#cfe2f3", "segment_A": "#cfe2f3", "segment_B": "#f8d3e2", "attn": "#fcd5a5",
          "ff": "#d5ebc8", "norm": "#fff0a0", "linear": "#e2d6f2", "rnn": "#f4c7c3", "band": "#fef0dc"}
INK, GREY = "#333333", "#777777"
_SUB = str.maketrans("0123456789-", "₀₁₂₃₄₅₆₇₈₉₋")


def _sub(i):
    return str(i).translate(_SUB)


class _Box(NamedTuple):
    x: float  # centre
    y: float
    w: float
    h: float

    top = property(lambda b: (b.x, b.y + b.h / 2))
    bottom = property(lambda b: (b.x, b.y - b.h / 2))
    left = property(lambda b: (b.x - b.w / 2, b.y))
    right = property(lambda b: (b.x + b.w / 2, b.y))


def _height(text, size=9):
    return 0.12 + (text.count("\n") + 1) * size * 1.25 / 72


def _width(token):
    """The width of a small token box: square for one character, wider for [CLS]."""
    return 0.4 if len(token) == 1 else 0.2 + 0.085 * len(token)


class _Sketch:
    """A white figure whose data units are inches, shrunk as a whole when it would exceed 11 x 6 inches."""

    def __init__(self, width, height):
        plot.use_cjk_font()
        self.s = min(1.0, 11 / width, 6 / height)
        self.fig = plt.figure(figsize=(width * self.s, height * self.s), facecolor="white")
        self.ax = self.fig.add_axes((0, 0, 1, 1))
        self.ax.set(xlim=(0, width), ylim=(0, height))
        self.ax.axis("off")

    def text(self, x, y, s, size=9, **kw):
        self.ax.text(x, y, s, fontsize=size * self.s, **{"ha": "center", "va": "center", "color": INK, **kw})

    def note(self, x, y, s, ha):
        self.text(x, y, s, 8, ha=ha, color=GREY, style="italic")

    def box(self, x, y, w, text, kind="tensor", size=9, h=None, lw=1.0, **kw):
        h = _height(text, size) if h is None else h
        self.ax.add_patch(FancyBboxPatch((x - w / 2, y - h / 2), w, h, boxstyle="round,pad=0,rounding_size=0.05",
                                         fc=COLORS[kind], ec=INK, lw=lw * self.s, zorder=2, **kw))
        self.text(x, y, text, size, zorder=3)
        return _Box(x, y, w, h)

    def band(self, x0, x1, y, h):
        """A pale strip behind a row of boxes: one operation applied to every column."""
        self.ax.add_patch(FancyBboxPatch((x0, y - h / 2), x1 - x0, h, boxstyle="round,pad=0,rounding_size=0.08",
                                         fc=COLORS["band"], ec="#e8b070", lw=0.8 * self.s, zorder=1))

    def arrow(self, *points, color=INK, lw=1.1, head=True):
        self.ax.add_patch(FancyArrowPatch(path=Path(points), arrowstyle="-|>" if head else "-", color=color,
                                          mutation_scale=11 * self.s, lw=lw * self.s, zorder=1.5))

    def add(self, x, y, r=0.1):
        """The residual ⊕: a white circle with a plus."""
        self.ax.add_patch(Circle((x, y), r, fc="white", ec=INK, lw=1.1 * self.s, zorder=2))
        for dx, dy in ((r * 0.6, 0), (0, r * 0.6)):
            self.ax.plot([x - dx, x + dx], [y - dy, y + dy], color=INK, lw=1.1 * self.s, zorder=3)
        return _Box(x, y, 2 * r, 2 * r)

    def tokens(self, xc, y, tokens, pitch, kind="tensor", size=10):
        """One small box per token, centred on xc."""
        x0 = xc - pitch * (len(tokens) - 1) / 2
        return [self.box(x0 + i * pitch, y, min(pitch - 0.06, _width(t)), t, kind, size) for i, t in enumerate(tokens)]

    def fan_in(self, sources, target):
        """Arrows from the tops of `sources` into the bottom of `target`, spread along its edge."""
        lo, hi = target.x - 0.4 * target.w, target.x + 0.4 * target.w
        for b in sources:
            self.arrow(b.top, (min(max(b.x, lo), hi), target.y - target.h / 2))

    def column(self, x, y, items, w=2.6, gap=0.22, notes_right=False, top=None):
        """Stack `items` upward from height y at x (centred between y and top if given), an arrow into each.

        An item is (text, kind, note) for a box, "skip" to start a residual branch (drawn on the right),
        "+" for the ⊕ that branch joins, "[" and "]" around the part repeated n_layers times. The notes
        (attribute names) go on the left, or on the right beyond the skips. Returns {note: box}.
        """
        if top is not None:
            sizes = {"skip": 0, "[": gap / 2, "]": gap / 2, "+": gap + 0.2}
            y += (top - y - sum(sizes[i] if isinstance(i, str) else gap + _height(i[0]) for i in items)) / 2
        boxes, start, branch, frame = {}, None, None, None
        for item in items:
            if item == "skip":
                branch = y + gap / 2
                self.ax.plot([x], [branch], "o", color=INK, ms=3.5 * self.s, zorder=3)
            elif item == "[":
                frame, y = y + gap / 2, y + gap / 2
            elif item == "]":
                y += gap / 2
                pad = w / 2 + 0.38
                self.ax.add_patch(FancyBboxPatch((x - pad, frame), 2 * pad, y - frame, ls="--", fc="none",
                                                 ec=GREY, lw=1.0 * self.s, boxstyle="round,pad=0,rounding_size=0.1"))
                self.text(x + w / 4, y, "× n_layers", 9, color=GREY, backgroundcolor="white")
            else:
                if item == "+":
                    b = self.add(x, y + gap + 0.1)
                    edge = x + w / 2 + 0.22
                    self.arrow((x, branch), (edge, branch), (edge, b.y), (x + 0.1, b.y))
                else:
                    text, kind, note = item
                    h = _height(text)
                    b = self.box(x, y + gap + h / 2, w, text, kind)
                    if note:
                        boxes[note] = b
                        off = w / 2 + 0.45 if notes_right else -w / 2 - 0.08
                        self.note(x + off, b.y, note, "left" if notes_right else "right")
                if start is not None:
                    self.arrow(start, b.bottom)
                start, y = b.top, b.y + b.h / 2
        return boxes


def _check_tokens(tokens, what="tokens"):
    tokens = [str(t) for t in tokens]
    if not tokens:
        raise ValueError(f"{what} is empty: give at least one token")
    return tokens


def _d_head(d_model, n_heads):
    if n_heads < 1 or d_model < 1 or d_model % n_heads:
        raise ValueError(f"d_model={d_model} must be a positive multiple of n_heads={n_heads}")
    return d_model // n_heads


def _block(d_model, n_heads, d_ff, norm_first, names=("norm1", "attn", "norm2", "ff"),
           attn="multi-head self-attention"):
    """The items of one encoder/decoder block for _Sketch.column, post-LN or pre-LN."""
    ln1, at, ln2, ff = names
    attn = (f"{attn}\nh = {n_heads}, d_head = {_d_head(d_model, n_heads)}", "attn", at)
    ff = (f"feed-forward\nLinear {d_model}→{d_ff}, GELU, Linear {d_ff}→{d_model}", "ff", ff)
    if norm_first:
        return ["skip", ("LayerNorm", "norm", ln1), attn, "+", "skip", ("LayerNorm", "norm", ln2), ff, "+"]
    return ["skip", attn, "+", ("LayerNorm", "norm", ln1), "skip", ff, "+", ("LayerNorm", "norm", ln2)]


def rnn_unrolled(tokens=("小", "猫", "爱", "吃", "鱼"), d_in=16, hidden=32):
    """Chapter 02: an RNN unrolled over the tokens, h_t = tanh(x_t W_xh + h_(t-1) W_hh + b). Steps count from 0,
    as in the chapter: h_0 is the memory after the first token, and the first step receives h_(-1) = 0."""
    tokens = _check_tokens(tokens)
    T, pitch, x0 = len(tokens), 1.65, 1.75
    sk = _Sketch(x0 + (T - 1) * pitch + 2.55, 4.4)
    sk.text(sk.ax.get_xlim()[1] / 2, 4.15, "An RNN unrolled over time: one cell, used once per token", 11)
    prev = sk.box(0.5, 2.2, 0.8, f"h₋₁ = 0\n(B, {hidden})")
    for t, tok in enumerate(tokens):
        x = x0 + t * pitch
        inp = sk.box(x, 0.95, 1.15, f"x{_sub(t)} = {tok}\n(B, {d_in})", size=10)
        cell = sk.box(x, 2.2, 1.3, f"h{_sub(t)} = tanh(x{_sub(t)}Wₓₕ\n+ h{_sub(t - 1)}Wₕₕ + b)", "rnn")
        out = sk.box(x, 3.35, 0.95, f"h{_sub(t)}\n(B, {hidden})")
        sk.arrow(inp.top, cell.bottom)
        sk.arrow(cell.top, out.bottom)
        sk.arrow(prev.right, cell.left)
        prev = cell
    pred = sk.box(out.x + 1.55, out.y, 1.45, "prediction\nLinear → logits", "linear")
    sk.arrow(out.right, pred.left)
    sk.text(x0 + (T - 1) * pitch / 2, 0.3, f"Wₓₕ ({d_in} × {hidden}), Wₕₕ ({hidden} × {hidden}) and "
            f"b ({hidden}) are the same at every step t", 9, color=GREY)


def attention_query(tokens=("小", "猫", "爱", "吃", "鱼"), query=3):
    """Chapter 03: the path of one query: scores q·k_j / √d, softmax over j, the weighted sum of the values."""
    tokens = _check_tokens(tokens)
    if not 0 <= query < len(tokens):
        raise ValueError(f"query={query} is out of range for {len(tokens)} tokens (0..{len(tokens) - 1})")
    T, pitch, x0 = len(tokens), 1.3, 2.55
    x1 = x0 + (T - 1) * pitch
    sk = _Sketch(x1 + 2.95, 5.9)
    rows = {"k": 4.35, "a": 3.4, "p": 2.45, "v": 1.5}
    sk.text((x0 + x1) / 2, 5.65, f"One query: how {tokens[query]} (t = {query}) reads every token", 11)
    for y in (rows["a"], rows["p"]):
        sk.band(x0 - 0.65, x1 + 0.65, y, 0.58)
    for j, tok in enumerate(tokens):
        j_, x = _sub(j), x0 + j * pitch
        box = sk.box(x, 5.15, _width(tok), tok, *(("attn", 10, None, 2) if j == query else ("tensor", 10)))
        boxes = [box, sk.box(x, rows["k"], 0.7, f"k{j_}"), sk.box(x, rows["a"], 1.15, f"α{j_} = q·k{j_}/√d", "attn"),
                 sk.box(x, rows["p"], 0.7, f"α′{j_}", "attn"), sk.box(x, rows["v"], 0.9, f"α′{j_} v{j_}", "attn")]
        for a, b in zip(boxes, boxes[1:]):
            sk.arrow(a.bottom, b.top)
    q = sk.box(1.0, rows["a"], 1.35, f"q (query of {tokens[query]})", "tensor", 10, lw=2)
    sk.arrow(q.right, (x0 - 0.65, rows["a"]))
    sk.text(0.95, rows["p"], "softmax over j", 9)
    sk.arrow((1.6, rows["p"]), (x0 - 0.65, rows["p"]))
    out = sk.box((x0 + x1) / 2, 0.45, 2.9, f"output of {tokens[query]} = Σⱼ α′ⱼ vⱼ", "tensor", 10, lw=2)
    for j in range(T):
        x = x0 + j * pitch
        sk.arrow((x, rows["v"] - 0.2), (out.x + (x - out.x) * 0.6, out.y + out.h / 2))
    for key, label in zip(rows, ("key kⱼ of token j", "score αⱼ, one per key", "weights: Σⱼ α′ⱼ = 1",
                                 "weighted value α′ⱼ vⱼ")):
        sk.text(x1 + 0.8, rows[key], label, 9, ha="left")


def heads(d_model=64, n_heads=4):
    """Chapter 04: q, k, v split into heads (view, transpose), attention per head, merged and projected by W_o."""
    d_head = _d_head(d_model, n_heads)
    pitch = 0.82
    span = max(3, n_heads) * pitch
    sk = _Sketch(10.7, span + 1.2)
    mid = 0.35 + span / 2
    sk.text(5.35, span + 0.9, f"Multi-head attention: h = {n_heads} heads of d_head = {d_model} / {n_heads} "
            f"= {d_head}", 11)
    qkv_y = [mid + pitch, mid, mid - pitch]
    head_y = [mid + pitch * ((n_heads - 1) / 2 - i) for i in range(n_heads)]
    x = sk.box(0.55, mid, 0.95, f"x\n(B, T, {d_model})")
    tall = dict(kind="tensor", h=span - 0.2)
    view = sk.box(3.25, mid, 1.2, f"view\n\n(B, T, {n_heads}, {d_head})", **tall)
    split = sk.box(4.75, mid, 1.3, f"transpose(1, 2)\n\n(B, {n_heads}, T, {d_head})", **tall)
    merge = sk.box(8.25, mid, 1.2, f"merge:\ntranspose,\nreshape\n\n(B, T, {d_model})", **tall)
    for name, y in zip("qkv", qkv_y):
        lin = sk.box(1.85, y, 1.05, f"Linear {name}\n(B, T, {d_model})", "linear")
        sk.arrow(x.right, lin.left)
        sk.arrow(lin.right, (view.x - view.w / 2, y))
        sk.arrow((view.x + view.w / 2, y), (split.x - split.w / 2, y))
    for i, y in enumerate(head_y):
        head = sk.box(6.5, y, 1.85, f"head {i}\nsoftmax(q kᵀ/√{d_head}) v\n(B, T, {d_head})", "attn",
                      h=pitch - 0.14)
        sk.arrow((split.x + split.w / 2, y), head.left)
        sk.arrow(head.right, (merge.x - merge.w / 2, y))
    out = sk.box(9.85, mid, 1.1, f"Linear out\n(Wₒ)\n(B, T, {d_model})", "linear")
    sk.arrow(merge.right, out.left)


def encoder_block(d_model=64, n_heads=4, d_ff=128):
    """Chapter 04: the encoder block in both arrangements, post-LN (Transformer, BERT) and pre-LN (GPT-2)."""
    _d_head(d_model, n_heads)
    sk = _Sketch(10.0, 6.0)
    panels = ((2.75, False, "post-LN (original Transformer, BERT)", "x = LayerNorm(x + sublayer(x))"),
              (7.5, True, "pre-LN (GPT-2)", "x = x + sublayer(LayerNorm(x))"))
    for x, norm_first, title, rule in panels:
        sk.text(x, 5.75, title, 11)
        sk.text(x, 5.45, rule, 10)
        items = [(f"x  (B, T, {d_model})", "tensor", None), *_block(d_model, n_heads, d_ff, norm_first),
                 (f"output  (B, T, {d_model})", "tensor", None)]
        sk.column(x, 0.0, items, w=3.1, gap=0.3, top=5.25)


def bert_inputs(tokens=("[CLS]", "房", "间", "很", "干", "净", "，", "[SEP]",
                        "服", "务", "也", "很", "好", "。", "[SEP]"), d_model=128):
    """Chapter 05: BERT's input is the sum of a token, a segment and a position embedding, then LayerNorm."""
    tokens = _check_tokens(tokens)
    T, pitch, x0 = len(tokens), 0.66, 1.4
    x1 = x0 + (T - 1) * pitch
    sk = _Sketch(max(x1 + 0.45, 6.0), 5.0)
    first_sep = tokens.index("[SEP]") if "[SEP]" in tokens else T - 1
    rows = (("token", 3.6, "token\nembedding"), ("segment", 2.7, "segment\nembedding"),
            ("position", 1.8, "position\nembedding"))
    sk.text(max(x1 + 0.45, 6.0) / 2, 4.75, "BERT's input: token + segment + position embedding", 11)
    top = sk.tokens((x0 + x1) / 2, 4.3, tokens, pitch, size=9)
    for j, tok in enumerate(tokens):
        x, seg = x0 + j * pitch, "A" if j <= first_sep else "B"
        for (_, y, _), sub, kind in zip(rows, (tok, seg, str(j)), ("embed", f"segment_{seg}", "embed")):
            sk.box(x, y, pitch - 0.08, "", kind, h=0.5)
            shift = 0.015 * len(sub) if len(sub) > 1 else 0.04  # centre "E" + subscript in the box
            sk.text(x - shift, y + 0.04, "E", 11, ha="right")
            sk.text(x - shift, y - 0.02, sub, 7 if len(sub) > 2 else 8, ha="left", va="top")
        sk.arrow(top[j].bottom, (x, 3.85))
        sk.text(x, 3.15, "+", 11)
        sk.text(x, 2.25, "+", 11)
        sk.arrow((x, 1.55), (x, 1.22))
    for name, y, label in rows:
        sk.text(x0 - 0.38, y + 0.08, label, 9, ha="right")
        sk.note(x0 - 0.38, y - 0.3, name, "right")
    norm = sk.box((x0 + x1) / 2, 0.95, x1 - x0 + 0.55, "LayerNorm, dropout", "norm")
    sk.note(x0 - 0.38, norm.y, "norm\ndropout", "right")
    out = sk.box(norm.x, 0.3, 2.0, f"(B, T, {d_model}),  T = {T}", "tensor")
    sk.arrow(norm.bottom, out.top)


def gpt_block(d_model=128, n_heads=4, block_size=25, tokens=("床", "前", "明", "月", "光")):
    """Chapter 07: the pre-LN GPT block inside the model, and the causal flow: position t sees tokens 0..t."""
    _d_head(d_model, n_heads)
    tokens = _check_tokens(tokens)
    if len(tokens) > block_size:
        raise ValueError(f"{len(tokens)} tokens do not fit into block_size={block_size} positions")
    T = len(tokens)
    pitch = 0.75
    sk = _Sketch(max(6.3 + T * pitch + 0.5, 10.0), 6.3)
    x = 2.75
    sk.text(x, 6.05, "GPT: pre-LN blocks (like GPT-2)", 11)
    items = [("ids (B, T)", "tensor", None),
             (f"token embedding + position embedding\n{block_size} positions → (B, T, {d_model})", "embed",
              "tokens\npositions"),
             "[", *_block(d_model, n_heads, 4 * d_model, True, ("ln1", "attn", "ln2", "ff"),
                          "causal self-attention (masked)"), "]",
             ("LayerNorm", "norm", "ln_f"), ("head (tied to the token embedding)\n→ logits (B, T, V)", "linear", "head")]
    sk.column(x, 0.0, items, w=3.3, gap=0.2, top=5.85)
    xc = 6.5 + (T - 1) * pitch / 2 + 0.2
    sk.text(xc, 6.05, "causal flow: position t sees tokens 0..t only", 11)
    inputs = sk.tokens(xc, 1.3, tokens, pitch)
    outputs = sk.tokens(xc, 4.8, tokens[1:] + ["?"], pitch, "linear")
    for t, out in enumerate(outputs):
        strong = t == T - 2 or T == 1
        for j in range(t + 1):
            sk.arrow(inputs[j].top, out.bottom, color=COLORS["attn"] if not strong else "#d9822b",
                     lw=1.6 if strong else 0.9)
        sk.note(inputs[t].x, inputs[t].y - 0.38, f"t = {t}", "center")
    sk.text(xc, 5.35, "the output at position t predicts token t + 1", 9)
    sk.text(xc, 0.5, "input tokens at positions t", 9)
    sk.text(xc, 0.15, f"causal mask (因果掩码): query t attends to keys 0..t, block_size = {block_size}",
            8, color=GREY)


def encoder_decoder(source=("1", "2", "0", "3"), target=("[CLS]", "一", "千", "二", "百", "零", "三"),
                    d_model=64, n_heads=4):
    """Chapter 08: the encoder-decoder Transformer; the decoder's cross-attention reads the encoder's memory."""
    _d_head(d_model, n_heads)
    source, target = _check_tokens(source, "source"), _check_tokens(target, "target")
    d_ff = 4 * d_model
    sk = _Sketch(10.8, 6.0)
    xe, xd = 2.45, 7.25
    sk.text(xe, 5.8, "encoder: reads the whole input", 11)
    sk.text(xd, 5.8, "decoder: writes the output one character at a time", 11)
    src = sk.tokens(xe, 0.25, source, 0.5)
    tgt = sk.tokens(xd, 0.25, target, 0.55)
    enc = sk.column(xe, 0.3, [
        (f"embedding + positions\n(B, S, {d_model})", "embed", "src_embed\nsrc_pos"),
        "[", *_block(d_model, n_heads, d_ff, True, attn="self-attention over the whole input"), "]",
        ("LayerNorm", "norm", "encoder.norm"), (f"memory (B, S, {d_model})", "tensor", "memory")], w=2.9, gap=0.17)
    dec = sk.column(xd, 0.3, [
        (f"embedding + positions\n(B, T, {d_model})", "embed", "tgt_embed\ntgt_pos"),
        "[", "skip", ("LayerNorm", "norm", "ln1"), ("causal self-attention (masked)", "attn", "self_attn"), "+",
        "skip", ("LayerNorm", "norm", "ln2"), ("cross-attention\nq from the decoder, k, v from memory", "attn",
                                               "cross_attn"), "+",
        "skip", ("LayerNorm", "norm", "ln3"), (f"feed-forward {d_model}→{d_ff}→{d_model}, GELU", "ff", "ff"), "+",
        "]",
        ("ln_f, head → logits (B, T, V) → next character", "linear", "ln_f, head")],
        w=3.3, gap=0.17, notes_right=True)
    sk.fan_in(src, enc["src_embed\nsrc_pos"])
    sk.fan_in(tgt, dec["tgt_embed\ntgt_pos"])
    mem, cross = enc["memory"], dec["cross_attn"]
    bend = (mem.x + mem.w / 2 + cross.x - cross.w / 2) / 2
    sk.arrow(mem.right, (bend, mem.y), (bend, cross.y), cross.left, lw=1.6)
    sk.text(bend + 0.08, (mem.y + cross.y) / 2, "keys, values\nfor every\ndecoder block", 8, ha="left", color=GREY)



def bert_classifier(tokens=("[CLS]", "房", "间", "很", "干", "净", "[SEP]", "[PAD]", "[PAD]"), d_model=128,
                    n_layers=2, n_classes=2):
    """Chapter 06: the downstream classifier: BERT's hidden states pooled one of three ways (法一 [CLS],
    法二 mean, 法三 max, the last two over the real tokens only), then dropout and a linear head."""
    tokens = _check_tokens(tokens)
    if tokens[0] != "[CLS]":
        raise ValueError(f"a BERT input starts with [CLS], got {tokens[0]!r} first")
    T, pitch, width = len(tokens), 0.72, 10.4
    x0 = (width - (T - 1) * pitch) / 2 + 0.3
    x1 = x0 + (T - 1) * pitch
    real = [t != "[PAD]" for t in tokens]
    sk = _Sketch(width, 6.2)
    sk.text(width / 2, 5.95, "Fine-tuning: one vector per review from one vector per token", 11)
    ids = sk.tokens((x0 + x1) / 2, 0.3, tokens, pitch, size=9)
    enc = sk.box((x0 + x1) / 2, 1.25, x1 - x0 + 0.7, f"pre-trained BERT (chapter 05): embeddings + {n_layers} "
                 "encoder blocks\nthe attention mask keeps every [PAD] out of the attention", "attn")
    sk.note(x0 - 0.45, enc.y, "bert", "right")
    hidden = []
    for j, (b, keep) in enumerate(zip(ids, real)):
        sk.arrow(b.top, (b.x, enc.y - enc.h / 2))
        h = sk.box(b.x, 2.3, pitch - 0.1, f"h{_sub(j)}", "tensor" if keep else "band", 9)
        sk.arrow((b.x, enc.y + enc.h / 2), h.bottom)
        hidden.append(h)
    sk.text(x0 - 0.45, 2.3, f"hidden\n(B, T, {d_model})", 9, ha="right")
    last = max(j for j, keep in enumerate(real) if keep)
    bar = 2.78                                               # the real tokens, gathered for mean and max
    for h in hidden[:last + 1]:
        sk.arrow(h.top, (h.x, bar), head=False)
    sk.arrow((hidden[0].x, bar), (hidden[last].x, bar), head=False, lw=1.6)
    sk.text((hidden[0].x + hidden[last].x) / 2 - pitch / 2, bar + 0.12, "the real tokens", 8, color=GREY)
    if last < T - 1:
        sk.text(hidden[-1].x + pitch / 2 + 0.05, 2.3, "[PAD]: no pooler\nreads it", 8, ha="left", color=GREY)
    y, bw, mid = 3.75, 2.3, (x0 + x1) / 2
    xs = [mid - 2.6, mid, mid + 2.6]
    pools = [("法一  [CLS] only\npooler: tanh(dense(h₀))", "linear"), ("法二  mean\nover the real tokens", "tensor"),
             ("法三  max, per feature\nover the real tokens", "tensor")]
    boxes = [sk.box(x, y, bw, f"{text}\n(B, {d_model})", kind) for x, (text, kind) in zip(xs, pools)]
    cls = hidden[0].x - 0.17                                 # [CLS] goes up on its own path, beside the bar's
    sk.arrow((cls, hidden[0].y + hidden[0].h / 2), (cls, boxes[0].y - boxes[0].h / 2))
    for b in boxes[1:]:
        foot = min(max(b.x, hidden[0].x), hidden[last].x)
        sk.arrow((foot, bar), (b.x, bar), (b.x, b.y - b.h / 2))
    sk.note(boxes[0].x - bw / 2 - 0.08, y, 'pool = "cls",\n"mean" or "max"', "right")
    head = sk.box((x0 + x1) / 2, 4.95, 3.4, f"dropout, head: Linear {d_model} → {n_classes}", "linear")
    sk.note(head.x - head.w / 2 - 0.1, head.y, "dropout\nhead", "right")
    for b in boxes:
        sk.arrow(b.top, (head.x + (b.x - head.x) * 0.35, head.y - head.h / 2))
    sk.text(head.x + head.w / 2 + 0.15, head.y, "one of the three", 8, ha="left", color=GREY)
    out = sk.box(head.x, 5.5, 3.4, f"logits (B, {n_classes})" + (": negative, positive" if n_classes == 2 else ""))
    sk.arrow(head.top, out.bottom)
