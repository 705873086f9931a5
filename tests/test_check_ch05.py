"""The chapter 05 checkers: references pass, stubs are 'not implemented', mistakes are named."""
import pytest
import torch

from course_lib import bert as ref
from course_lib import check

IGNORE = ref.IGNORE


def stub(*args):
    raise NotImplementedError()


@pytest.mark.parametrize("name", ["segment_ids", "mask_tokens"])
def test_stub_is_not_implemented(name):
    assert getattr(check, name)(stub).status == "not_implemented"


@pytest.mark.parametrize("name", ["segment_ids", "mask_tokens"])
@pytest.mark.parametrize("garbage", [
    lambda *a: None, lambda *a: [1, 2], lambda *a: torch.zeros(7), lambda *a: torch.full((4, 10), float("nan")),
    lambda *a: (torch.zeros(3), None), lambda *a: 1 / 0, "not a function"])
def test_garbage_fails_without_raising(name, garbage):
    r = getattr(check, name)(garbage)
    assert r.status == "failed" and r.message


def test_strict_mode_raises():
    with pytest.raises(AssertionError):
        check.segment_ids(stub, strict=True)


# ---------- segment_ids ----------

def test_segment_ids_reference_passes():
    assert check.segment_ids(ref.segment_ids).status == "passed"


def _seg(sep_first=False, pad=True, dim=1, dtype=torch.long):
    def fn(ids, sep_id, pad_id=0):
        is_sep = (ids == sep_id).long()
        before = is_sep.cumsum(dim=dim) - (0 if sep_first else is_sep)
        seg = before >= 1
        if pad:
            seg = seg & (ids != pad_id)
        return seg.to(dtype)
    return fn


@pytest.mark.parametrize("fn, phrase", [
    (_seg(sep_first=True), "first [SEP] closes sentence A"),
    (_seg(pad=False), "padding got segment 1"),
    (_seg(dim=0), "batch axis"),
    (_seg(dtype=torch.bool), "booleans"),
    (_seg(dtype=torch.float), "floats"),
    (lambda ids, sep_id, pad_id=0: ref.segment_ids(ids, 3, 0), "pad_id"),
])
def test_segment_ids_mistakes_are_named(fn, phrase):
    r = check.segment_ids(fn)
    assert r.status == "failed" and phrase in r.message, r.message


# ---------- mask_tokens ----------

def test_mask_tokens_reference_passes():
    assert check.mask_tokens(ref.mask_tokens).status == "passed"


def test_mask_tokens_equivalent_formulation_passes():
    def fn(ids, special, u_choose, u_how, random_ids, mask_id, p=0.15):
        inputs, labels = ids.clone(), torch.full_like(ids, -100)
        chosen = (u_choose < p) & ~special
        labels[chosen] = ids[chosen]
        inputs[chosen & (u_how < 0.8)] = mask_id
        rnd = chosen & (u_how >= 0.8) & (u_how < 0.9)
        inputs[rnd] = random_ids[rnd]
        return inputs, labels
    assert check.mask_tokens(fn).status == "passed"


def _mask(**kw):
    def fn(ids, special, u_choose, u_how, random_ids, mask_id, p=0.15):
        from course_lib.check.ch05 import _mask_variant
        return _mask_variant(ids, special, u_choose, u_how, random_ids, mask_id, p, **kw)
    return fn


@pytest.mark.parametrize("fn, phrase", [
    (_mask(ignore_special=True), "never choose a position where `special` is True"),
    (_mask(all_mask=True), "every chosen position became [MASK]"),
    (_mask(choose_above=True), "u_choose > p"),
    (_mask(replace_everywhere=True), "not chosen"),
    (_mask(fixed_p=0.15), "instead of the argument p"),
    (_mask(labels_everywhere=True), "unchosen positions must be -100"),
    (_mask(labels_from_inputs=True), "ORIGINAL character"),
    (lambda *a, **k: ref.mask_tokens(*a, **k)[::-1], "(labels, inputs)"),
    (lambda *a, **k: ref.mask_tokens(*a, **k)[0], "one tensor"),
    (lambda *a, **k: tuple(t.float() for t in ref.mask_tokens(*a, **k)), "integers"),
])
def test_mask_tokens_mistakes_are_named(fn, phrase):
    r = check.mask_tokens(fn)
    assert r.status == "failed" and phrase in r.message, r.message


def test_mask_tokens_zero_labels_named():
    def fn(*a, **k):
        inputs, labels = ref.mask_tokens(*a, **k)
        return inputs, labels.clamp(min=0)
    r = check.mask_tokens(fn)
    assert r.status == "failed" and "not 0" in r.message


class _Embeddings(torch.nn.Module):
    """A student's BertEmbeddings, with switches for the usual mistakes."""

    def __init__(self, vocab_size, d_model, max_len=128, n_segments=2, dropout=0.1, eps=1e-12, **mistake):
        super().__init__()
        self.mistake = mistake
        self.token = torch.nn.Embedding(vocab_size, d_model)
        self.segment = torch.nn.Embedding(n_segments, d_model)
        self.position = torch.nn.Embedding(max_len, d_model)
        self.norm = torch.nn.LayerNorm(d_model, eps=eps)
        self.dropout = torch.nn.Dropout(dropout)
        self.p = dropout

    def forward(self, ids, segments=None):
        got = self.mistake
        if segments is None and not got.get("no_default"):
            segments = torch.zeros_like(ids)
        T = ids.size(1)
        pos = self.position.weight if got.get("uncropped") else self.position(
            torch.arange(T, device=ids.device) + got.get("offset", 0))
        x = self.token(ids) + (0 if got.get("no_segment") else self.segment(segments)) + (0 if got.get("no_position") else pos)
        x = x if got.get("no_norm") else self.norm(x)
        if got.get("eval_dropout"):
            return torch.nn.functional.dropout(x, self.p)
        return x if got.get("no_dropout") else self.dropout(x)


def embeddings_variant(**mistake):
    class BertEmbeddings(_Embeddings):
        def __init__(self, vocab_size, d_model, max_len=128, n_segments=2, dropout=0.1, eps=1e-12):
            super().__init__(vocab_size, d_model, max_len, n_segments, dropout, eps, **mistake)
    return BertEmbeddings


def test_bert_embeddings_reference_and_a_written_out_one_pass():
    assert check.BertEmbeddings(ref.BertEmbeddings).status == "passed"
    assert check.BertEmbeddings(embeddings_variant()).status == "passed"


@pytest.mark.parametrize("phrase, cls", [
    ("segment embedding is missing", embeddings_variant(no_segment=True)),
    ("position embedding is missing", embeddings_variant(no_position=True)),
    ("not self.position.weight", embeddings_variant(uncropped=True)),
    ("positions start at 1", embeddings_variant(offset=1)),
    ("layer norm is missing", embeddings_variant(no_norm=True)),
    ("segments=None must mean", embeddings_variant(no_default=True)),
    ("in eval mode", embeddings_variant(eval_dropout=True)),
    ("never applies dropout", embeddings_variant(no_dropout=True)),
])
def test_bert_embeddings_mistakes_are_named(phrase, cls):
    result = check.BertEmbeddings(cls)
    assert result.status == "failed" and phrase in result.message, result.message


def test_segment_ids_alternatives_pass():
    """Right answers written differently: a loop over each row, and cumsum minus the separators."""
    def per_row(ids, sep_id, pad_id=0):
        out = torch.zeros_like(ids)
        for b, row in enumerate(ids.tolist()):
            seen = 0
            for t, token in enumerate(row):
                out[b, t] = 1 if seen >= 1 and token != pad_id else 0
                seen += token == sep_id
        return out

    def cumsum_minus(ids, sep_id, pad_id=0):
        is_sep = (ids == sep_id).long()
        return ((is_sep.cumsum(1) - is_sep).clamp(max=1) * (ids != pad_id)).long()

    assert check.segment_ids(per_row).status == "passed"
    assert check.segment_ids(cumsum_minus).status == "passed"


def test_segment_ids_with_fixed_special_ids_is_named():
    def fixed(ids, sep_id, pad_id=0):
        is_sep = (ids == 3).long()
        return (((is_sep.cumsum(1) - is_sep) >= 1) & (ids != 0)).long()
    result = check.segment_ids(fixed)
    assert result.status == "failed" and "instead of the arguments sep_id and pad_id" in result.message
