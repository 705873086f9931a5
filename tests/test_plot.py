"""Plots draw, Chinese labels render with the shipped font, and bad input gets a clear error."""
import warnings

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
from matplotlib import font_manager

from course_lib import plot

LINE = "床前明月光，疑是地上霜。"


@pytest.fixture(autouse=True)
def cjk():
    plot.use_cjk_font()
    yield
    plt.close("all")


def test_shipped_font_is_the_one_used():
    path = font_manager.findfont(font_manager.FontProperties(family=plot.CJK_FAMILY), fallback_to_default=False)
    assert path == str(plot.FONT_FILE)
    assert plot.missing_glyphs(LINE + "[CLS] 一千二百零三 hello") == ""
    assert plot.missing_glyphs("𣃁") == "𣃁"  # a rare extension-B character: honestly reported as missing


def test_rendering_chinese_labels_warns_of_no_missing_glyph(tmp_path):
    w = torch.softmax(torch.randn(len(LINE), len(LINE)), -1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # matplotlib warns "Glyph ... missing from font(s)" on a box
        plot.attention(w, list(LINE), title="自注意力")
        plt.gcf().savefig(tmp_path / "a.png")
        plot.bars([0.5, 0.3], ["买", "卖"], title="[MASK] 的猜测")
        plt.gcf().savefig(tmp_path / "b.png")


def test_missing_glyph_would_be_caught():
    plt.rcParams["font.family"] = ["DejaVu Sans"]  # no CJK font at all: the warning must appear
    with pytest.warns(UserWarning, match="missing from font"):
        fig, ax = plt.subplots()
        ax.set_title("明月")
        fig.canvas.draw()


def test_attention_orientation_rows_are_queries():
    w = torch.tensor([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    plot.attention(w, ["我", "你"], ["甲", "乙", "丙"], annotate=True)
    ax = plt.gcf().axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["我", "你"]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["甲", "乙", "丙"]
    assert np.allclose(ax.images[0].get_array(), w.numpy())
    assert ax.get_xlabel().startswith("key") and ax.get_ylabel().startswith("query")


def test_grids():
    plot.attention_heads(torch.softmax(torch.randn(3, 4, 4), -1), list("明月几时"))
    assert len([a for a in plt.gcf().axes if a.images]) == 3
    plot.attention_layers([torch.softmax(torch.randn(2, 4, 4), -1)] * 3, list("明月几时"), title="L × H")
    assert len([a for a in plt.gcf().axes if a.images]) == 6
    plot.heatmap(torch.randn(3, 5), center=0)
    plot.curves({"train": [3, 2, 1], "val": ([1, 3], [3.0, 2.5])}, hlines={"bigram": 2.2})


def test_clear_errors():
    with pytest.raises(ValueError, match="attention_heads"):
        plot.attention(torch.rand(2, 3, 3), list("abc"))
    with pytest.raises(ValueError, match="one label per row"):
        plot.attention(torch.rand(3, 3), list("ab"))
    with pytest.raises(ValueError, match="layers, heads"):
        plot.attention_layers(torch.rand(3, 3, 3), list("abc"))


def test_lab_css_serves_the_shipped_font():
    """`make lab` copies tools/lab/custom.css and the font beside each other; the CSS must name that file and
    put the family last in JupyterLab's text, content and code font lists."""
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    css = (root / "tools" / "lab" / "custom.css").read_text()
    font = re.search(r'url\("([^"]+)"\)', css).group(1)
    assert (root / "course_lib" / "data" / "fonts" / font).is_file()
    assert font in (root / "Makefile").read_text()
    family = re.search(r'font-family: "([^"]+)"', css).group(1)
    for var in ("--jp-ui-font-family", "--jp-content-font-family", "--jp-code-font-family-default"):
        assert re.search(rf'{var}:[^;]*"{family}" !important;', css), var
