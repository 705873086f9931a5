"""Architecture diagrams draw without warnings, show the chapter's shapes, follow their arguments,
keep their text apart, and reject bad input with a clear error."""
import itertools
import warnings

import matplotlib.pyplot as plt
import pytest
from matplotlib.text import Text

from course_lib import diagrams, plot

DIAGRAMS = {  # function -> strings its default figure must show
    "rnn_unrolled": ["h₋₁ = 0\n(B, 32)", "x₀ = 小\n(B, 16)", "h₄\n(B, 32)", "h₂ = tanh(x₂Wₓₕ\n+ h₁Wₕₕ + b)"],
    "attention_query": ["q (query of 吃)", "α₀ = q·k₀/√d", "α′₄", "α′₂ v₂", "output of 吃 = Σⱼ α′ⱼ vⱼ"],
    "heads": ["x\n(B, T, 64)", "Linear q\n(B, T, 64)", "view\n\n(B, T, 4, 16)",
              "transpose(1, 2)\n\n(B, 4, T, 16)", "head 3\nsoftmax(q kᵀ/√16) v\n(B, T, 16)", "Linear out\n(Wₒ)\n(B, T, 64)"],
    "encoder_block": ["x = LayerNorm(x + sublayer(x))", "x = x + sublayer(LayerNorm(x))", "x  (B, T, 64)",
                      "output  (B, T, 64)", "feed-forward\nLinear 64→128, GELU, Linear 128→64",
                      "attn", "norm1", "ff", "norm2"],
    "bert_inputs": ["[CLS]", "[SEP]", "A", "B", "14", "LayerNorm, dropout", "(B, T, 128),  T = 15"],
    "gpt_block": ["ln1", "ln2", "ln_f", "× n_layers", "causal self-attention (masked)\nh = 4, d_head = 32",
                  "feed-forward\nLinear 128→512, GELU, Linear 512→128",
                  "head (tied to the token embedding)\n→ logits (B, T, V)",
                  "token embedding + position embedding\n25 positions → (B, T, 128)", "光"],
    "encoder_decoder": ["memory (B, S, 64)", "embedding + positions\n(B, T, 64)", "self_attn", "cross_attn",
                        "ln3",
                        "cross-attention\nq from the decoder, k, v from memory", "[CLS]", "三"],
    "bert_classifier": ["[CLS]", "[SEP]", "[PAD]", "h₀", "h₈", "hidden\n(B, T, 128)",
                        "法一  [CLS] only\npooler: tanh(dense(h₀))\n(B, 128)", "法二  mean\nover the real tokens\n(B, 128)",
                        "法三  max, per feature\nover the real tokens\n(B, 128)", "dropout, head: Linear 128 → 2",
                        "logits (B, 2): negative, positive"],
}


@pytest.fixture(autouse=True)
def close():
    yield
    plt.close("all")


def texts(fig):
    return [t.get_text() for t in fig.findobj(Text) if t.get_text()]


def draw(name, **kw):
    """Draw one diagram with warnings as errors (a missing glyph warns) and return its figure."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert getattr(diagrams, name)(**kw) is None
        fig = plt.gcf()
        fig.canvas.draw()
    return fig


@pytest.mark.parametrize("name", DIAGRAMS)
def test_default_figure(name):
    fig = draw(name)
    assert len(plt.get_fignums()) == 1
    w, h = fig.get_size_inches()
    assert w <= 11 + 1e-6 and h <= 6 + 1e-6
    shown = texts(fig)
    for s in DIAGRAMS[name]:
        assert s in shown, f"{name}: {s!r} not in the figure"
    assert plot.missing_glyphs("".join(shown)) == ""


@pytest.mark.parametrize("name", DIAGRAMS)
def test_text_does_not_overlap_or_leave_the_figure(name):
    fig = draw(name)
    renderer = fig.canvas.get_renderer()
    boxes = [(t.get_text(), t.get_window_extent(renderer)) for t in fig.findobj(Text) if t.get_text().strip()]
    for s, b in boxes:
        assert b.x0 >= 0 and b.y0 >= 0 and b.x1 <= fig.bbox.width and b.y1 <= fig.bbox.height, f"{s!r} is clipped"
    for (s1, b1), (s2, b2) in itertools.combinations(boxes, 2):
        overlap = min(b1.x1, b2.x1) - max(b1.x0, b2.x0), min(b1.y1, b2.y1) - max(b1.y0, b2.y0)
        assert min(overlap) <= 1, f"{s1!r} overlaps {s2!r}"


def test_arguments_change_the_labels():
    shown = texts(draw("heads", d_model=96, n_heads=3))
    assert "transpose(1, 2)\n\n(B, 3, T, 32)" in shown and "head 2\nsoftmax(q kᵀ/√32) v\n(B, T, 32)" in shown
    assert not any(s.startswith("head 3") for s in shown)
    assert "x₂ = 鱼\n(B, 8)" in texts(draw("rnn_unrolled", tokens="猫吃鱼", d_in=8, hidden=64))
    assert "q (query of [CLS])" in texts(draw("attention_query", tokens=("[CLS]", "猫"), query=0))
    assert "feed-forward\nLinear 96→384, GELU, Linear 384→96" in texts(draw("encoder_block", d_model=96, n_heads=3,
                                                                            d_ff=384))
    assert "(B, T, 64),  T = 3" in texts(draw("bert_inputs", tokens=("[CLS]", "好", "[SEP]"), d_model=64))
    assert "token embedding + position embedding\n8 positions → (B, T, 64)" in texts(
        draw("gpt_block", d_model=64, n_heads=2, block_size=8, tokens="明月"))
    shown = texts(draw("bert_classifier", tokens=("[CLS]", "好", "[SEP]"), d_model=64, n_classes=3))
    assert "logits (B, 3)" in shown and "法二  mean\nover the real tokens\n(B, 64)" in shown
    assert not any(t.startswith("[PAD]") for t in shown)  # no padding, no note about it
    assert "memory (B, S, 32)" in texts(draw("encoder_decoder", source="12", target=("[CLS]", "十", "二"),
                                             d_model=32, n_heads=2))


def test_bert_segments_follow_the_first_sep():
    shown = texts(draw("bert_inputs"))
    assert shown.count("A") == 8 and shown.count("B") == 7  # [CLS] ... first [SEP] is sentence A


@pytest.mark.parametrize("call, match", [
    (lambda: diagrams.heads(d_model=64, n_heads=5), "divisible|multiple"),
    (lambda: diagrams.encoder_block(d_model=64, n_heads=0), "multiple"),
    (lambda: diagrams.gpt_block(d_model=100, n_heads=3), "multiple"),
    (lambda: diagrams.encoder_decoder(d_model=10, n_heads=4), "multiple"),
    (lambda: diagrams.attention_query(query=5), "out of range"),
    (lambda: diagrams.attention_query(query=-1), "out of range"),
    (lambda: diagrams.rnn_unrolled(tokens=()), "empty"),
    (lambda: diagrams.attention_query(tokens=[]), "empty"),
    (lambda: diagrams.bert_inputs(tokens=()), "empty"),
    (lambda: diagrams.gpt_block(tokens=""), "empty"),
    (lambda: diagrams.encoder_decoder(source=()), "source is empty"),
    (lambda: diagrams.encoder_decoder(target=()), "target is empty"),
    (lambda: diagrams.gpt_block(block_size=3), "block_size"),
    (lambda: diagrams.bert_classifier(tokens=()), "empty"),
    (lambda: diagrams.bert_classifier(tokens=("房", "间")), "starts with \\[CLS\\]"),
])
def test_bad_input_is_a_clear_error(call, match):
    with pytest.raises(ValueError, match=match):
        call()
    assert not plt.get_fignums()  # checked before any figure is made
