"""The attention explorer: checks its input, redraws when a control changes, leaves a picture and a fixed line."""
import base64

import pytest
import torch
from matplotlib.figure import Figure
from matplotlib.text import Text

from course_lib import explorer, plot


def weights(B=3, L=2, H=4, T=6, seed=0):
    g = torch.Generator().manual_seed(seed)
    return list(torch.softmax(torch.randn(B, L, H, T, T, generator=g), -1))


TOKENS = [list("床前明月光，")] * 3


def test_render_one_head_and_all_heads():
    w = weights()[0].numpy()
    fig = explorer.render(w, TOKENS[0], layer=1, head=2, query=3)
    shown = [t.get_text() for t in fig.findobj(Text)]
    assert isinstance(fig, Figure) and "layer 1 · head 2" in shown and "what 月 (position 3) reads" in shown
    assert plot.missing_glyphs("".join(shown)) == ""
    shown = [t.get_text() for t in explorer.render(w, TOKENS[0], 0, explorer.ALL, 5).findobj(Text)]
    assert all(f"layer 0 · head {h}" in shown for h in range(4))


def test_every_control_redraws_and_a_new_sentence_resets_the_query():
    short = weights(B=1, T=4)[0]
    box = explorer.build([weights()[0], short], [TOKENS[0], list("床前明月")], names=["six", "four"])
    seen = {box.image.value}
    for name, value in (("layer", 0), ("head", 1), ("query", 2)):
        box.controls[name].value = value
        assert box.image.value not in seen, name
        seen.add(box.image.value)
    box.controls["sentence"].value = 1
    assert box.controls["query"].value == 2 and len(box.controls["query"].options) == 4   # query 2 kept
    assert box.image.value not in seen


def test_explore_displays_a_picture_and_a_fixed_line(monkeypatch):
    shown = []
    monkeypatch.setattr("IPython.display.display", lambda data, raw=False: shown.append(data))
    explorer.explore(weights(), TOKENS, title="test")
    (bundle,) = shown
    assert bundle["text/plain"] == ("attention explorer: 3 sentences, 2 layers × 4 heads (live in Jupyter; "
                                    "a stored notebook shows its first view)")
    assert base64.b64decode(bundle["image/png"])[:4] == b"\x89PNG"
    assert "application/vnd.jupyter.widget-view+json" in bundle


@pytest.mark.parametrize("args, match", [
    (([], []), "at least one"),
    ((weights(), TOKENS[:2]), "one list per sentence"),
    (([torch.rand(2, 4, 6)], [TOKENS[0]]), "layers, heads, T, T"),
    (([torch.rand(2, 4, 6, 6)], [list("床前")]), "2 tokens"),
    (([torch.rand(2, 4, 6, 6), torch.rand(1, 4, 6, 6)], TOKENS[:2]), "layers × heads"),
])
def test_bad_input_is_a_clear_error(args, match):
    with pytest.raises(ValueError, match=match):
        explorer.build(*args)


def test_a_view_out_of_range_is_a_clear_error():
    with pytest.raises(ValueError, match="layer must be in 0..1"):
        explorer.build(weights(), TOKENS, layer=2)


def test_a_query_beyond_the_new_sentence_moves_to_its_last_position():
    box = explorer.build([weights()[0], weights(B=1, T=4)[0]], [TOKENS[0], list("床前明月")], item="poem")
    assert box.controls["query"].value == 5 and box.controls["sentence"].description == "poem"
    box.controls["sentence"].value = 1
    assert box.controls["query"].value == 3
