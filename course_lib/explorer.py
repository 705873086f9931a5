"""An attention explorer that works offline: pick a sentence, a layer, a head (or all heads) and a query.

    explorer.explore(weights, tokens)                     # one sentence: weights (L, h, T, T), T tokens
    explorer.explore([w1, w2], [tokens1, tokens2], names=["first", "second"], item="poem", query=0)

See explore() for every argument. Implementation notes: only ipywidgets and matplotlib, nothing from the
network (bertviz fetches its JavaScript from a CDN and shows nothing offline); the picture is drawn with
matplotlib's Agg backend into an image widget, so it looks the same in JupyterLab, Colab and VS Code; the
displayed output also carries a PNG of the first view and a fixed text line, so a stored notebook (GitHub,
nbval) shows that picture and nbval, which ignores images and widget models, has nothing changing to compare.
"""
import io

import matplotlib
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from . import plot

ALL = "all heads"


def _sentences(weights, tokens, names):
    """Normalise the arguments to lists of (L, h, T, T) arrays, token lists and names; check the shapes."""
    single = not isinstance(weights, (list, tuple))
    maps = [plot._np(w) for w in ([weights] if single else weights)]
    labels = [list(tokens)] if single else [list(t) for t in tokens]
    if not maps:
        raise ValueError("explore() needs at least one sentence's weights")
    if len(labels) != len(maps):
        raise ValueError(f"{len(maps)} weight tensors but {len(labels)} token lists: give one list per sentence")
    for i, (w, t) in enumerate(zip(maps, labels)):
        if w.ndim != 4 or w.shape[-1] != w.shape[-2]:
            raise ValueError(f"sentence {i}: weights must be (layers, heads, T, T), got shape {w.shape}")
        if len(t) != w.shape[-1]:
            raise ValueError(f"sentence {i}: {len(t)} tokens for weights over T = {w.shape[-1]} positions")
        if w.shape[:2] != maps[0].shape[:2]:
            raise ValueError(f"sentence {i}: {w.shape[:2]} layers × heads, sentence 0 has {maps[0].shape[:2]}")
    names = list(names) if names is not None else ["".join(t) if all(len(s) == 1 for s in t) else " ".join(t)
                                                     for t in labels]
    if len(names) != len(maps):
        raise ValueError(f"{len(names)} names for {len(maps)} sentences")
    return maps, labels, names


def render(w, tokens, layer, head, query, title=None):
    """The explorer's picture as a matplotlib Figure (not shown): one head's map with the query's row framed
    and that row as bars, or (head = "all heads") every head of the layer with the row framed.
    w: (L, h, T, T) array; head: an int or ALL; query: a position 0..T-1."""
    plot.use_cjk_font()
    T = w.shape[-1]
    heads = range(w.shape[1]) if head == ALL else [head]
    if head == ALL:  # one panel per head, tall enough for one label per row
        size = (min(3.2 * len(heads), 12.5), max(4.3, 0.16 * T + 1.6))
    else:
        size = (max(9.5, 0.4 * T + 2.0), max(4.0, 0.24 * T + 1.2))
    fig = Figure(figsize=size, layout="constrained")
    axes = fig.subplots(1, len(heads) if head == ALL else 2, squeeze=False)[0]
    for ax, h in zip(axes, heads):
        m = w[layer, h]
        im = ax.imshow(m, cmap=plot.ATTENTION_CMAP, vmin=0, vmax=1)
        plot._ticks(ax, tokens, tokens)
        if head == ALL:                          # narrow panels: small enough labels not to overlap
            ax.tick_params(labelsize=min(9.0, 160 / T))
        ax.add_patch(Rectangle((-0.5, query - 0.5), T, 1, fill=False, ec="#d62728", lw=2))
        ax.set_title(f"layer {layer} · head {h}")
        ax.set_xlabel("key (looked at)")
    axes[0].set_ylabel("query (looking)")
    if head != ALL:
        row = w[layer, head, query]
        bars = axes[1]
        bars.bar(range(T), row, color=matplotlib.colormaps[plot.ATTENTION_CMAP](0.35 + 0.65 * row))
        bars.set_xticks(range(T), tokens, rotation=90 if max(map(len, tokens)) > 2 else 0)
        bars.set_ylim(0, 1)
        bars.set_ylabel("weight")
        bars.set_title(f"what {tokens[query]} (position {query}) reads")
    fig.colorbar(im, ax=list(axes[: len(heads)]), fraction=0.046, pad=0.02, label="weight" if head == ALL else None)
    if title:
        fig.suptitle(title)
    return fig


def _png(fig):
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90)
    return buffer.getvalue()


def build(weights, tokens, names=None, title=None, layer=None, head=ALL, query=None, item="sentence"):
    """The explorer of explore() as an ipywidgets.VBox, not displayed: .controls holds its four Dropdowns
    ("sentence", "layer", "head", "query") and .image the picture, redrawn whenever a control changes."""
    import ipywidgets as widgets

    maps, labels, names = _sentences(weights, tokens, names)
    L, H = maps[0].shape[:2]
    last = lambda s: len(labels[s]) - 1  # noqa: E731
    if not (layer is None or 0 <= layer < L) or not (head == ALL or 0 <= head < H) or \
            not (query is None or 0 <= query <= last(0)):
        raise ValueError(f"layer must be in 0..{L - 1}, head in 0..{H - 1} or {ALL!r}, query in 0..{last(0)}")
    queries = lambda s: [(f"{i}: {t}", i) for i, t in enumerate(labels[s])]  # noqa: E731
    controls = {
        "sentence": widgets.Dropdown(options=[(n, i) for i, n in enumerate(names)], value=0, description=item),
        "layer": widgets.Dropdown(options=list(range(L)), value=L - 1 if layer is None else layer, description="layer"),
        "head": widgets.Dropdown(options=[ALL, *range(H)], value=head, description="head"),
        "query": widgets.Dropdown(options=queries(0), value=last(0) if query is None else query, description="query"),
    }
    image = widgets.Image(format="png")

    def draw(*_):
        s = controls["sentence"].value
        image.value = _png(render(maps[s], labels[s], controls["layer"].value, controls["head"].value,
                                  controls["query"].value, title))

    busy = []

    def new_sentence(change):
        busy.append(1)                       # one redraw, after the query list fits the new sentence
        keep = controls["query"].value       # the same position if the new sentence has it, else its last
        controls["query"].options = queries(change["new"])
        controls["query"].value = keep if keep <= last(change["new"]) else last(change["new"])
        busy.clear()
        draw()

    controls["sentence"].observe(new_sentence, names="value")
    for name in ("layer", "head", "query"):
        controls[name].observe(lambda change: None if busy else draw(), names="value")
    draw()
    box = widgets.VBox([widgets.HBox([controls["sentence"], controls["layer"]]),
                        widgets.HBox([controls["head"], controls["query"]]), image])
    box.controls, box.image, box.n, box.item = controls, image, (len(maps), L, H), item
    return box


def explore(weights, tokens, names=None, title=None, layer=None, head=ALL, query=None, item="sentence"):
    """Show the attention of several sentences, live: four dropdowns choose what the picture shows.

    weights: a list with one (L, h, T, T) tensor per sentence (T may differ between sentences), or one tensor
    tokens:  a list with one list of T labels per sentence (or one list)
    names:   the sentences' names in the first dropdown (default: their tokens joined)
    title:   a title over the picture
    layer, head, query: the first view — the last layer, all heads ("all heads", or a head's number) and
             the last position by default; the query's row is framed, and with one head it is also drawn as bars
    item:    what one entry is called in the first dropdown ("poem", "pair", …)
    Returns None. A stored notebook keeps the picture of the first view.
    """
    import base64

    from IPython.display import display

    box = build(weights, tokens, names, title, layer, head, query, item)
    n, L, H = box.n
    bundle = box._repr_mimebundle_() if hasattr(box, "_repr_mimebundle_") else {}
    bundle["image/png"] = base64.b64encode(box.image.value).decode()
    bundle["text/plain"] = (f"attention explorer: {n} {item}{'s' * (n > 1)}, {L} layer{'s' * (L > 1)} × {H} heads "
                            "(live in Jupyter; a stored notebook shows its first view)")
    display(bundle, raw=True)
