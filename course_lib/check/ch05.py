"""Exercise checks for chapter 05: BERT's input (segment ids, the BertEmbeddings module) and masked-LM
corruption (mask_tokens)."""
import torch
import torch.nn.functional as F

from .. import bert as ref
from . import _modules as m
from ._core import Fail, exercise

__all__ = ["segment_ids", "BertEmbeddings", "mask_tokens"]

CLS, SEP, PAD, MASK = 2, 3, 0, 4


def _pairs():
    """[CLS] A [SEP] B [SEP] [PAD]..., plus a single sentence ([CLS] A [SEP]) and a row without padding."""
    rows = [[CLS, 7, 8, 9, SEP, 10, 11, SEP, PAD, PAD],
            [CLS, 12, SEP, 13, 14, 15, 16, SEP, PAD, PAD],
            [CLS, 5, 6, 7, 8, SEP, PAD, PAD, PAD, PAD],
            [CLS, 9, 9, SEP, 8, 7, 6, 5, 11, SEP]]
    return torch.tensor(rows)


@exercise
def segment_ids(c):
    """Checks segment_ids(ids, sep_id, pad_id) -> segments (B, T) long. Reference: course_lib.bert.segment_ids."""
    ids = _pairs()
    out = c.call(ids, SEP, PAD)
    if isinstance(out, torch.Tensor) and out.dtype == torch.bool:
        raise Fail("your segment ids are booleans: nn.Embedding needs integer ids — end with .long()")
    out = c.tensor(out, shape=tuple(ids.shape), what="your segment ids")
    if out.is_floating_point():
        raise Fail("your segment ids are floats: nn.Embedding needs integer ids — end with .long()")
    is_sep = (ids == SEP).long()
    seps_upto = is_sep.cumsum(dim=1)
    real = ids != PAD
    c.close(out.long(), ref.segment_ids(ids, SEP, PAD), what="your segment ids", mistakes={
        "the first [SEP] closes sentence A, so it belongs to segment 0; segment 1 starts right after it":
            ((seps_upto >= 1) & real).long(),
        "padding got segment 1: padding positions must stay 0 (use ids != pad_id)":
            ((seps_upto - is_sep) >= 1).long(),
        "both rules at once: the first [SEP] belongs to segment 0 and padding stays 0":
            (seps_upto >= 1).long(),
        "you counted [SEP]s down the batch axis: count along each sequence (dim=1)":
            (((is_sep.cumsum(dim=0) - is_sep) >= 1) & real).long()},
        hint="a position belongs to sentence B once a [SEP] has come before it; count the [SEP]s seen so far "
             "along the sequence, and keep padding at 0")
    c.expect(out.dtype == torch.long, f"your segment ids have dtype {out.dtype}: use .long() (torch.int64)")
    # The documented form with other special ids: [SEP] = 5, [PAD] = 1, and 3 and 0 as ordinary tokens.
    other = torch.tensor([[CLS, 20, 3, 5, 0, 22, 5, 1, 1]])
    out = c.tensor(c.call(other, 5, 1), shape=(1, 9), what="your segment ids (sep_id=5, pad_id=1)")
    c.close(out.long(), ref.segment_ids(other, 5, 1), what="your segment ids with sep_id=5, pad_id=1",
            hint="use the arguments sep_id and pad_id, not fixed numbers")


def _mask_variant(ids, special, u_choose, u_how, random_ids, mask_id, p=0.15, *, ignore_special=False,
                  all_mask=False, labels_everywhere=False, labels_from_inputs=False, choose_above=False,
                  replace_everywhere=False, fixed_p=None):
    """A masked-LM corruption with one deliberate mistake, to name what a student did."""
    p = fixed_p if fixed_p is not None else p
    can = torch.ones_like(special) if ignore_special else ~special
    chosen = can & ((u_choose > p) if choose_above else (u_choose < p))
    where = can if replace_everywhere else chosen
    if all_mask:
        inputs = torch.where(where, torch.full_like(ids, mask_id), ids)
    else:
        inputs = torch.where(where & (u_how < 0.8), torch.full_like(ids, mask_id), ids)
        inputs = torch.where(where & (u_how >= 0.8) & (u_how < 0.9), random_ids, inputs)
    source = inputs if labels_from_inputs else ids
    labels = source.clone() if labels_everywhere else torch.where(chosen, source, torch.full_like(ids, ref.IGNORE))
    return inputs, labels


def _mask_case(seed, B=6, T=40):
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(5, 60, (B, T), generator=g)
    lengths = torch.randint(T // 2, T + 1, (B,), generator=g)
    lengths[0] = T
    real = torch.arange(T) < lengths[:, None]
    ids[:, 0] = CLS
    ids[torch.arange(B), lengths - 1] = SEP
    ids[~real] = PAD
    special = (ids == CLS) | (ids == SEP) | (ids == PAD)
    u_choose, u_how = torch.rand(B, T, generator=g), torch.rand(B, T, generator=g)
    random_ids = torch.randint(5, 60, (B, T), generator=g)
    return ids, special, u_choose, u_how, random_ids


def _pair(c, out, shape):
    if isinstance(out, torch.Tensor):
        raise Fail("you returned one tensor: return the pair (inputs, labels)")
    if out is None:
        raise Fail("your result is None — did you forget to `return inputs, labels`?")
    if not isinstance(out, (tuple, list)) or len(out) != 2:
        n = f" of length {len(out)}" if isinstance(out, (tuple, list)) else ""
        raise Fail(f"your result is a {type(out).__name__}{n}: return exactly the pair (inputs, labels)")
    inputs = c.tensor(out[0], shape=shape, what="your inputs")
    labels = c.tensor(out[1], shape=shape, what="your labels")
    for name, t in (("inputs", inputs), ("labels", labels)):
        if t.is_floating_point() or t.dtype == torch.bool:
            raise Fail(f"your {name} have dtype {t.dtype}: they are token ids, keep them integers (long)")
    return inputs.long(), labels.long()


@exercise
def mask_tokens(c):
    """Checks mask_tokens(ids, special, u_choose, u_how, random_ids, mask_id, p=0.15) -> (inputs, labels).
    Reference: course_lib.bert.mask_tokens."""
    for seed, p in ((0, 0.15), (1, 0.15), (2, 0.5)):
        args = _mask_case(seed)
        ids, special = args[0], args[1]
        inputs, labels = _pair(c, c.call(*args, MASK, p), tuple(ids.shape))
        want_inputs, want_labels = ref.mask_tokens(*args, MASK, p)
        if torch.equal(inputs, want_labels) and torch.equal(labels, want_inputs):
            raise Fail("you returned (labels, inputs): return the corrupted inputs first, then the labels")
        variants = {
            "a [CLS], [SEP] or [PAD] was chosen: never choose a position where `special` is True":
                dict(ignore_special=True),
            "every chosen position became [MASK]: only 80 % should; 10 % get the random character, "
            "10 % stay as they are": dict(all_mask=True),
            "you chose the positions where u_choose > p (85 % of them): choose where u_choose < p":
                dict(choose_above=True),
            "you replaced tokens that were not chosen: apply the 80/10/10 rule only to the chosen positions":
                dict(replace_everywhere=True),
            "you used 0.15 instead of the argument p": dict(fixed_p=0.15),
        }
        mistakes = {msg: _mask_variant(*args, MASK, p, **kw)[0] for msg, kw in variants.items()
                    if not torch.equal(_mask_variant(*args, MASK, p, **kw)[0], want_inputs)}
        c.close(inputs, want_inputs, mistakes, what=f"your inputs (p={p})",
                hint="first decide which positions are chosen (never special ones), then, among the chosen only, "
                     "split them by u_how into the [MASK], random and unchanged shares")
        label_variants = {
            "your labels are the original ids everywhere: unchosen positions must be -100 (IGNORE), "
            "so that the loss only counts the chosen characters": dict(labels_everywhere=True),
            "your labels hold the corrupted input ([MASK] or the random character): "
            "they must hold the ORIGINAL character the model has to guess": dict(labels_from_inputs=True),
            "a [CLS], [SEP] or [PAD] got a label: never choose a position where `special` is True":
                dict(ignore_special=True),
            "you chose the positions where u_choose > p (85 % of them): choose where u_choose < p":
                dict(choose_above=True),
            "you used 0.15 instead of the argument p": dict(fixed_p=0.15),
        }
        mistakes = {msg: _mask_variant(*args, MASK, p, **kw)[1] for msg, kw in label_variants.items()
                    if not torch.equal(_mask_variant(*args, MASK, p, **kw)[1], want_labels)}
        mistakes["unchosen positions must be labelled -100 (IGNORE), not 0"] = torch.where(
            want_labels == ref.IGNORE, torch.zeros_like(want_labels), want_labels)
        c.close(labels, want_labels, mistakes, what=f"your labels (p={p})",
                hint="a label is the original character where a position was chosen, and -100 everywhere else")


EMBEDDINGS_LAYOUT = ("token = nn.Embedding(vocab_size, d_model), segment = nn.Embedding(n_segments, d_model), "
                     "position = nn.Embedding(max_len, d_model), norm = nn.LayerNorm(d_model, eps=eps), "
                     "dropout = nn.Dropout(dropout)")


def _embeddings(e, ids, segments, *, token=True, segment=True, position=True, norm="after", offset=0):
    """The reference embedding layer `e` (its weights) with one of the usual mistakes."""
    T = ids.size(1)
    parts = [e.token(ids) if token else 0, e.segment(segments) if segment else 0,
             e.position(torch.arange(offset, T + offset)) if position else 0]
    if norm == "token only":
        return e.norm(parts[0]) + parts[1] + parts[2]
    x = sum(parts)
    return e.norm(x) if norm == "after" else x


_EMBEDDING_MISTAKES = {
    "the segment embedding is missing: add self.segment(segments), so sentence A and B differ": dict(segment=False),
    "the position embedding is missing: add self.position(torch.arange(T, device=ids.device)), or the order is lost (chapter 04)":
        dict(position=False),
    "the token embedding is missing: start from self.token(ids)": dict(token=False),
    "the layer norm is missing: LayerNorm(token + segment + position), then dropout": dict(norm="none"),
    "the layer norm is applied to the token embedding alone; it normalises the sum of all three":
        dict(norm="token only"),
    "positions start at 1: the first token is position 0, torch.arange(T)": dict(offset=1),
}


@exercise
def BertEmbeddings(c):
    """Checks the class BertEmbeddings(vocab_size, d_model, max_len=128, n_segments=2, dropout=0.1, eps=1e-12):
    forward(ids (B, T) long, segments (B, T) long or None = all 0) -> (B, T, d_model) =
    dropout(LayerNorm(token(ids) + segment(segments) + position(0 … T-1))). Reference: course_lib.bert.BertEmbeddings."""
    cls = c.fn
    V, d, max_len = 30, 16, 12
    g = torch.Generator().manual_seed(0)
    ids = torch.randint(5, V, (3, 7), generator=g)
    segments = torch.tensor([[0, 0, 0, 1, 1, 1, 1], [0, 0, 1, 1, 1, 1, 1], [0, 0, 0, 0, 0, 1, 1]])
    theirs = m.randomize(ref.BertEmbeddings(V, d, max_len, dropout=0.0), 0).eval()
    mine = m.load(c, m.build(c, cls, V, d, max_len, 2, 0.0), theirs, EMBEDDINGS_LAYOUT)
    with torch.no_grad():
        for T in (7, 3):
            what = f"BertEmbeddings({V}, {d}, max_len={max_len}) on ids {(3, T)}"
            try:
                out = m.forward(c, mine, ids[:, :T], segments[:, :T], what=what)
            except Fail as e:
                if "must match the size" in str(e) and str(max_len) in str(e):
                    raise Fail(f"{e} — the position table has max_len rows; take only the first T of them, "
                               "self.position(torch.arange(T, device=ids.device)), not self.position.weight") from None
                raise
            out = c.tensor(out, shape=(3, T, d), dtype=torch.float32, what=f"the output of {what}")
            c.close(out, theirs(ids[:, :T], segments[:, :T]), {
                msg: _embeddings(theirs, ids[:, :T], segments[:, :T], **kw) for msg, kw in _EMBEDDING_MISTAKES.items()},
                what=f"the output of {what}", hint="look up the three tables, add them, then layer norm and dropout")
        try:
            out = m.forward(c, mine, ids, what="your forward with segments=None")
        except Fail as e:
            raise Fail(f"{e} — segments=None must mean one sentence: every segment id 0 "
                       "(torch.zeros_like(ids))") from None
        c.close(c.tensor(out, shape=(3, 7, d), what="the output with segments=None"), theirs(ids),
                what="the output with segments=None", hint="segments=None means every position is in segment 0")
    try:
        m.forward(c, mine, torch.randint(5, V, (1, max_len + 1)), what="your forward")
        c.expect(False, f"a sequence longer than max_len={max_len} must raise an error; yours did not")
    except Fail as e:
        if "must raise an error" in str(e):
            raise
    m.dropout_probe(c, lambda p: m.load(c, m.build(c, cls, V, d, max_len, 2, p), theirs, EMBEDDINGS_LAYOUT),
                    lambda e: e(ids, segments), what="BertEmbeddings")
    m.gradient_probe(c, mine, theirs, lambda e: e(ids, segments), what="BertEmbeddings")
