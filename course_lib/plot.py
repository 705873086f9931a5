"""Pictures for every chapter: attention heatmaps, other heatmaps, loss curves and bar charts.

Conventions, the same in every chapter:
- attention: rows are queries (the token that looks), columns are keys (the tokens looked at);
  each row of weights sums to 1; colour "Blues" from 0 (white) to 1 (dark blue); values printed when small.
- Chinese labels render on any machine: the course ships a subset of Noto Sans CJK SC
  (course_lib/data/fonts, SIL Open Font License) and registers it in `use_cjk_font()`.
Every function draws and returns None: the notebook shows the figure (use plt.gcf() to save it).
"""
from pathlib import Path

import matplotlib
import matplotlib.figure
import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib import font_manager

FONT_FILE = Path(__file__).parent / "data" / "fonts" / "NotoSansCJKsc-Regular-subset.otf"
CJK_FAMILY = "Course Noto Sans SC subset"
ATTENTION_CMAP = "Blues"


def use_cjk_font():
    """Register the shipped CJK font and put it behind DejaVu Sans, so Latin text keeps its usual look
    and every Chinese character falls back to the shipped subset of Noto Sans CJK SC. Safe to call more than once."""
    if CJK_FAMILY not in {f.name for f in font_manager.fontManager.ttflist}:
        font_manager.fontManager.addfont(str(FONT_FILE))
    matplotlib.rcParams["font.family"] = ["DejaVu Sans", CJK_FAMILY]
    matplotlib.rcParams["axes.unicode_minus"] = False
    matplotlib.rcParams["figure.dpi"] = 100


def plain_figure_text():
    """Give every figure the plain-text stand-in "<Figure>" instead of "<Figure size 640x360 with 1 Axes>".

    A notebook stores that text beside each PNG, and nbval compares it (not the PNG); the size in it depends on
    matplotlib's version and dpi. IPython asks `_repr_pretty_` for the text, so that is what is set (a type
    printer would not last: the inline backend removes those for Figure when it starts). Safe to call again.
    """
    matplotlib.figure.Figure._repr_pretty_ = lambda figure, printer, cycle: printer.text("<Figure>")


def missing_glyphs(text):
    """The characters of `text` that no font in matplotlib's current family list can draw ("" = all fine)."""
    charmaps = []
    for family in matplotlib.rcParams["font.family"]:
        try:
            path = font_manager.findfont(font_manager.FontProperties(family=family), fallback_to_default=False)
        except ValueError:
            continue
        charmaps.append(font_manager.get_font(path).get_charmap())
    return "".join(ch for ch in dict.fromkeys(text) if not ch.isspace() and not any(ord(ch) in m for m in charmaps))


def _np(x):
    if isinstance(x, torch.Tensor):
        return x.detach().float().cpu().numpy()
    return np.asarray(x, dtype=float)


def _labels(tokens, n, what):
    if tokens is None:
        return [str(i) for i in range(n)]
    tokens = list(tokens)
    if len(tokens) != n:
        raise ValueError(f"{len(tokens)} {what} labels for {n} {what}s: give one label per row/column")
    return [str(t) for t in tokens]


def _ticks(ax, rows, cols):
    n = max(len(rows), len(cols))
    fs = 11 if n <= 20 else 9 if n <= 40 else 8
    step_r = -(-len(rows) // 40)  # at most 40 labels per axis, so none shrinks below 8 pt
    step_c = -(-len(cols) // 40)
    ax.set_yticks(range(0, len(rows), step_r), rows[::step_r], fontsize=fs)
    ax.set_xticks(range(0, len(cols), step_c), cols[::step_c], fontsize=fs)
    for label in ax.get_xticklabels():  # single characters stay upright, longer labels ([CLS]) turn
        if len(label.get_text()) > 2:
            label.set_rotation(90)
    ax.tick_params(length=0)


def _annotate(ax, m, fmt, norm):
    for i in range(m.shape[0]):
        for j in range(m.shape[1]):
            if np.isnan(m[i, j]):
                continue
            dark = norm(m[i, j]) > 0.6
            ax.text(j, i, format(m[i, j], fmt), ha="center", va="center", fontsize=8,
                    color="white" if dark else "black")


def _draw(ax, m, rows, cols, *, cmap, vmin, vmax, annotate, fmt=".2f"):
    im = ax.imshow(m, cmap=cmap, vmin=vmin, vmax=vmax, aspect="auto", interpolation="nearest")
    _ticks(ax, rows, cols)
    if annotate is None:
        annotate = m.shape[0] <= 12 and m.shape[1] <= 12
    if annotate:
        _annotate(ax, m, fmt, im.norm)
    return im


def _top(maps, vmax):
    """The top of the colour scale: vmax, or the largest value when vmax is None (faint maps)."""
    return (float(np.nanmax(maps)) or 1.0) if vmax is None else vmax


def _size(rows, cols, panels=(1, 1)):
    cell = 0.42 if max(rows, cols) <= 16 else 0.22 if max(rows, cols) <= 40 else 0.12
    w = min(4.8, max(2.4, cols * cell + 1.0))
    h = min(4.8, max(2.0, rows * cell + 0.8))
    return (w * panels[1] + 0.8, h * panels[0] + 0.6)


def attention(weights, queries, keys=None, *, title=None, ax=None, annotate=None, vmax=1.0):
    """One attention map. weights: (T, S) with rows = queries; queries: T labels; keys: S labels (default
    the queries: self-attention). The colours run from 0 to vmax (None: the largest weight shown)."""
    w = _np(weights)
    if w.ndim != 2:
        raise ValueError(f"attention() draws one (T, S) map, got shape {w.shape}; "
                         "use attention_heads for (h, T, S) or attention_layers for (L, h, T, S)")
    rows = _labels(queries, w.shape[0], "query")
    cols = _labels(keys if keys is not None else queries, w.shape[1], "key")
    own = ax is None
    if own:
        fig, ax = plt.subplots(figsize=_size(*w.shape), layout="constrained")
    im = _draw(ax, w, rows, cols, cmap=ATTENTION_CMAP, vmin=0, vmax=_top(w, vmax), annotate=annotate)
    ax.set_xlabel("key (looked at)")
    ax.set_ylabel("query (looking)")
    if title:
        ax.set_title(title)
    if own:
        fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04, label="weight")


def _grid(maps, rows, cols, grid, titles, suptitle, annotate, vmax):
    n_r, n_c = grid
    T, S = maps[0].shape
    fig, axes = plt.subplots(n_r, n_c, figsize=_size(T, S, grid), squeeze=False, layout="constrained")
    top = _top(np.stack(maps), vmax)
    for i, ax in enumerate(axes.flat):
        if i >= len(maps):
            ax.axis("off")
            continue
        im = _draw(ax, maps[i], rows, cols, cmap=ATTENTION_CMAP, vmin=0, vmax=top, annotate=annotate)
        ax.set_title(titles[i], fontsize=10)
        if i % n_c:
            ax.set_yticks([])
    if suptitle:
        fig.suptitle(suptitle)
    fig.colorbar(im, ax=axes, fraction=0.02, pad=0.01, label="weight")


def attention_heads(weights, queries, keys=None, *, title=None, cols=None, annotate=False, vmax=1.0):
    """One map per head, side by side, on one colour scale from 0 to vmax. weights: (h, T, S)."""
    w = _np(weights)
    if w.ndim != 3:
        raise ValueError(f"attention_heads takes (heads, T, S), got shape {w.shape}")
    rows = _labels(queries, w.shape[1], "query")
    keys_ = _labels(keys if keys is not None else queries, w.shape[2], "key")
    cols = cols or min(len(w), 4)
    grid = (int(np.ceil(len(w) / cols)), cols)
    _grid(list(w), rows, keys_, grid, [f"head {h}" for h in range(len(w))], title, annotate, vmax)


def attention_layers(weights, queries, keys=None, *, title=None, annotate=False, vmax=1.0):
    """A grid with one row per layer and one column per head, on one colour scale from 0 to vmax.
    weights: (L, h, T, S) or a list of (h, T, S)."""
    w = np.stack([_np(x) for x in weights]) if isinstance(weights, (list, tuple)) else _np(weights)
    if w.ndim != 4:
        raise ValueError(f"attention_layers takes (layers, heads, T, S), got shape {w.shape}")
    L, H, T, S = w.shape
    rows = _labels(queries, T, "query")
    keys_ = _labels(keys if keys is not None else queries, S, "key")
    titles = [f"layer {l} · head {h}" for l in range(L) for h in range(H)]
    _grid(list(w.reshape(L * H, T, S)), rows, keys_, (L, H), titles, title, annotate, vmax)


def heatmap(matrix, rows=None, cols=None, *, title=None, xlabel=None, ylabel=None, cmap="viridis",
            center=None, annotate=None, fmt=".2f", ax=None):
    """Any matrix that is not attention (one-hot vectors, gradient norms, gates, positional encodings).
    center=c uses a diverging colour map symmetric around c; NaN entries are left blank."""
    m = _np(matrix)
    if m.ndim != 2:
        raise ValueError(f"heatmap takes a 2-D matrix, got shape {m.shape}")
    r = _labels(rows, m.shape[0], "row")
    c = _labels(cols, m.shape[1], "column")
    vmin = vmax = None
    if center is not None:
        span = float(np.nanmax(np.abs(m - center))) or 1.0
        cmap, vmin, vmax = "RdBu_r", center - span, center + span
    own = ax is None
    if own:
        fig, ax = plt.subplots(figsize=_size(*m.shape), layout="constrained")
    im = _draw(ax, m, r, c, cmap=cmap, vmin=vmin, vmax=vmax, annotate=annotate, fmt=fmt)
    ax.set_xlabel(xlabel or "")
    ax.set_ylabel(ylabel or "")
    if title:
        ax.set_title(title)
    if own:
        fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)


def curves(series, *, title=None, xlabel="step", ylabel="loss", hlines=None, ax=None, logy=False):
    """Line plots. series: {name: (xs, ys)} or {name: ys}; hlines: {name: y} drawn dashed (baselines)."""
    own = ax is None
    if own:
        fig, ax = plt.subplots(figsize=(6.4, 3.6), layout="constrained")
    for name, xy in series.items():
        xs, ys = xy if isinstance(xy, tuple) else (range(1, len(xy) + 1), xy)
        ax.plot(list(xs), _np(ys), label=name)
    for i, (name, y) in enumerate((hlines or {}).items()):
        ax.axhline(y, linestyle="--", color=f"C{len(series) + i}", label=name)
    if logy:
        ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()


def bars(values, labels, *, title=None, ylabel=None, ax=None, color="C0"):
    """A bar chart with one (possibly Chinese) label per bar, e.g. the top-5 guesses for a [MASK]."""
    v = _np(values)
    labels = _labels(labels, len(v), "bar")
    own = ax is None
    if own:
        fig, ax = plt.subplots(figsize=(max(3.0, 0.55 * len(v) + 1.2), 3.0), layout="constrained")
    ax.bar(range(len(v)), v, color=color)
    ax.set_xticks(range(len(v)), labels, fontsize=12 if len(v) <= 12 else 8)
    for i, x in enumerate(v):
        ax.text(i, x, f"{x:.2f}", ha="center", va="bottom", fontsize=8)
    if ylabel:
        ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
