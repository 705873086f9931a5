import doctest

import pytest
import torch

from course_lib import text


def test_doctest():
    assert doctest.testmod(text).failed == 0


def test_specials_come_first_then_frequency():
    tok = text.CharTokenizer.from_texts(["明月明月光"])
    assert tok.vocab[:5] == text.SPECIALS
    assert (tok.pad_id, tok.unk_id, tok.cls_id, tok.sep_id, tok.mask_id) == (0, 1, 2, 3, 4)
    assert tok.vocab[5:] == ["明", "月", "光"]  # 明 and 月 twice (tie by code point), 光 once


def test_round_trip_and_unknown():
    tok = text.CharTokenizer.from_texts(["床前明月光"])
    assert tok.decode(tok.encode("明月光")) == "明月光"
    assert tok.encode("明X") == [tok.stoi["明"], tok.unk_id]
    with pytest.raises(ValueError, match=r"not in the vocabulary: \['X'\]"):
        tok.encode("明X", strict=True)
    with pytest.raises(TypeError, match="encode takes a str"):
        tok.encode(["明"])
    with pytest.raises(TypeError, match="list of strings"):
        text.CharTokenizer.from_texts("明月")
    with pytest.raises(ValueError, match="out of range"):
        tok.decode([99])


def test_decode_skips_specials_on_request():
    tok = text.CharTokenizer.from_texts(["明月"])
    ids = [tok.cls_id] + tok.encode("明月") + [tok.sep_id, tok.pad_id]
    assert tok.decode(ids) == "[CLS]明月[SEP][PAD]"
    assert tok.decode(torch.tensor(ids), skip_special=True) == "明月"


def test_encode_batch_pads_and_masks():
    tok = text.CharTokenizer.from_texts(["床前明月光"])
    ids, mask = tok.encode_batch(["明月", "床前明月光"])
    assert ids.shape == mask.shape == (2, 5)
    assert ids[0, 2:].tolist() == [tok.pad_id] * 3
    assert mask.sum(1).tolist() == [2, 5]
    ids, mask = text.pad_batch([[7, 8, 9]], pad_id=0, length=2)
    assert ids.tolist() == [[7, 8]] and mask.tolist() == [[True, True]]
    with pytest.raises(ValueError):
        text.pad_batch([])


def test_one_hot():
    x = text.one_hot(torch.tensor([2, 0]), 4)
    assert x.dtype == torch.float32
    assert x.tolist() == [[0, 0, 1, 0], [1, 0, 0, 0]]
    with pytest.raises(ValueError, match="0..3"):
        text.one_hot(torch.tensor([4]), 4)
    with pytest.raises(TypeError, match="integer ids"):
        text.one_hot(torch.tensor([1.0]), 4)
