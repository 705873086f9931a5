"""Exercise checks for chapter 05: BERT's input (segment ids, the BertEmbeddings module) and masked-LM
corruption (mask_tokens)."""

import torch
import torch.nn as nn
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


def _only_first_row(bad):
    """bad (B, T) bool, True where wrong: is the first row right and every other row wrong somewhere?"""
    return bad.size(0) > 1 and not bad[0].any() and bool(bad[1:].any(dim=1).all())


def _segment_roles(ids, sep, pad):
    """(name, where, value) for each kind of position in [CLS] A [SEP] B [SEP] [PAD]… rows."""
    is_sep = ids == sep
    seps = is_sep.long().cumsum(dim=1)
    real = ids != pad
    first = torch.zeros_like(is_sep)
    first[:, 0] = True
    return [("[CLS]", first, 0), ("sentence A", real & ~is_sep & ~first & (seps == 0), 0),
            ("the first [SEP]", is_sep & (seps == 1), 0), ("sentence B", real & ~is_sep & (seps == 1), 1),
            ("the second [SEP]", is_sep & (seps == 2), 1), ("padding", ~real, 0)]


def _segment_where(out, ids, want, sep, pad):
    """Which kinds of position ([CLS], sentence A, the first [SEP] …) a wrong answer gets wrong, or None."""
    bad = out != want
    if not bad.any():
        return None
    if _only_first_row(bad):
        return ("only the first row comes out right: is something taken from row 0 (ids[0], a [0] index) "
                "and used for every row? each row has its own [SEP]")
    wrong = []
    for name, where, value in _segment_roles(ids, sep, pad):
        if (bad & where).any():
            got = sorted(set(out[bad & where].tolist()))
            wrong.append(f"{name} got {' and '.join(map(str, got[:3]))} (it must be {value})")
    return "; ".join(wrong) + (" — segment 1 starts right after the first [SEP] of each row and ends with the "
                               "row's last real token; [CLS], A, the first [SEP] and padding are 0") if wrong else None


@exercise
def segment_ids(c):
    """Checks segment_ids(ids, sep_id, pad_id) -> segments (B, T) long. Reference: course_lib.bert.segment_ids."""
    c.defaults(ref.segment_ids)
    ids = _pairs()
    pairs = ids[[0, 1, 3]]  # two sentences in every row
    out = c.call(pairs, SEP, PAD)
    try:
        out = c.call(ids, SEP, PAD)
    except Fail as e:
        raise Fail(f"{e} — it fails on a batch where one row holds a single sentence, [CLS] A [SEP] (one [SEP] "
                   "only), which the exercise allows: do not assume every row has two [SEP]s") from None
    if isinstance(out, torch.Tensor) and out.dtype == torch.bool:
        raise Fail("your segment ids are booleans: nn.Embedding needs integer ids — end with .long()")
    out = c.tensor(out, shape=tuple(ids.shape), what="your segment-id tensor")
    if out.is_floating_point():
        raise Fail("your segment ids are floats: nn.Embedding needs integer ids — end with .long()")
    is_sep = (ids == SEP).long()
    seps_upto = is_sep.cumsum(dim=1)
    real = ids != PAD
    want = ref.segment_ids(ids, SEP, PAD)
    mistakes = {
        "the first [SEP] closes sentence A, so it belongs to segment 0; segment 1 starts right after it":
            ((seps_upto >= 1) & real).long(),
        "padding got segment 1: padding positions must stay 0 (use ids != pad_id)":
            ((seps_upto - is_sep) >= 1).long(),
        "both rules at once: the first [SEP] belongs to segment 0 and padding stays 0":
            (seps_upto >= 1).long(),
        "you counted [SEP]s down the batch axis: count along each sequence (dim=1)":
            (((is_sep.cumsum(dim=0) - is_sep) >= 1) & real).long(),
        "your segments are the other way round: sentence A (with [CLS] and the first [SEP]) is segment 0, "
        "sentence B segment 1": ((1 - want) * real).long()}
    c.name_mistake(out.long(), want, mistakes)
    how = _segment_where(out.long(), ids, want, SEP, PAD)
    if how:
        raise Fail(f"your segment ids are wrong: {how}")
    c.close(out.long(), want, what="your segment-id tensor", mistakes=mistakes, axes=("batch", "position"),
            hint="a position belongs to sentence B once a [SEP] has come before it; count the [SEP]s seen so far "
                 "along the sequence, and keep padding at 0")
    c.expect(out.dtype == torch.long, f"your segment ids have dtype {out.dtype}: use .long() (torch.int64)")
    # The documented form with other special ids: [SEP] = 5, [PAD] = 1, and 3 and 0 as ordinary tokens.
    other = torch.tensor([[CLS, 20, 3, 5, 0, 22, 5, 1, 1]])
    out = c.tensor(c.call(other, 5, 1), shape=(1, 9), what="your segment-id tensor (sep_id=5, pad_id=1)")
    fixed = "you used {} instead of the {}: the check passes other ids here (sep_id=5, pad_id=1)"
    c.close(out.long(), ref.segment_ids(other, 5, 1), what="your segment-id tensor with sep_id=5, pad_id=1", mistakes={
        fixed.format("a fixed [SEP] id", "argument sep_id"): ref.segment_ids(other, SEP, 1),
        fixed.format("a fixed [PAD] id", "argument pad_id"): ref.segment_ids(other, 5, PAD),
        fixed.format("fixed [SEP] and [PAD] ids", "arguments sep_id and pad_id"): ref.segment_ids(other, SEP, PAD)},
        hint="use the arguments sep_id and pad_id, not fixed numbers")


def _mask_variant(ids, special, u_choose, u_how, random_ids, mask_id, p=0.15, *, ignore_special=False,
                  special_only=False,
                  all_mask=False, labels_everywhere=False, labels_from_inputs=False, choose_above=False,
                  replace_everywhere=False, fixed_p=None):
    """A masked-LM corruption with one deliberate mistake, to name what a student did."""
    p = fixed_p if fixed_p is not None else p
    can = torch.ones_like(special) if ignore_special else special if special_only else ~special
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


def _what_is_there(got, ids, random_ids, mask_id):
    """A phrase for what `got` holds at some positions: [MASK], the random character, the original id …"""
    kinds = [("[MASK]", got == mask_id), ("the original id", got == ids), ("the random character", got == random_ids),
             ("-100", got == ref.IGNORE)]
    found = [name for name, hit in kinds if hit.float().mean() >= 0.2]
    return " or ".join(found[:2]) if found else "other ids"


def _mask_where(inputs, labels, args, mask_id, p):
    """Which kinds of position (special, unchosen, chosen for [MASK] / random / unchanged) a wrong answer gets
    wrong, and what it put there — or None when all of them are right, or only the first row is."""
    ids, special, u_choose, u_how, random_ids = args
    want_inputs, want_labels = ref.mask_tokens(*args, mask_id, p)
    bad = (inputs != want_inputs) | (labels != want_labels)
    if not bad.any():
        return None
    if _only_first_row(bad):
        return ("only the first row comes out right: a loop over row 0 alone, or an index [0]? treat every row "
                "of the batch alike")
    chosen = ~special & (u_choose < p)
    roles = [("the special positions ([CLS], [SEP], [PAD])", special, "the original id", "-100"),
             ("the positions that are not chosen (u_choose ≥ p)", ~special & ~chosen, "the original id", "-100"),
             ("the chosen positions with u_how < 0.8", chosen & (u_how < 0.8), "[MASK]", "the original id"),
             ("the chosen positions with 0.8 ≤ u_how < 0.9", chosen & (u_how >= 0.8) & (u_how < 0.9),
              "the random character", "the original id"),
             ("the chosen positions with u_how ≥ 0.9", chosen & (u_how >= 0.9), "the original id", "the original id")]
    parts = []
    for name, where, want_in, want_label in roles:
        for got, want, what, should in ((inputs, want_inputs, "input", want_in),
                                        (labels, want_labels, "label", want_label)):
            wrong = where & (got != want)
            if wrong.sum() * 4 >= where.sum() and wrong.any():  # most of them, not a coincidence
                held = _what_is_there(got[wrong], ids[wrong], random_ids[wrong], mask_id)
                parts.append(f"at {name} your {what} is {held}, it must be {should}")
    return "; ".join(parts) or None


@exercise
def mask_tokens(c):
    """Checks mask_tokens(ids, special, u_choose, u_how, random_ids, mask_id, p=0.15) -> (inputs, labels).
    Reference: course_lib.bert.mask_tokens."""
    c.defaults(ref.mask_tokens)
    for seed, p in ((0, 0.15), (1, 0.15), (2, 0.5)):
        args = _mask_case(seed)
        ids = args[0]
        inputs, labels = _pair(c, c.call(*args, MASK, p), tuple(ids.shape))
        want_inputs, want_labels = ref.mask_tokens(*args, MASK, p)
        if torch.equal(inputs, want_labels) and torch.equal(labels, want_inputs):
            raise Fail("you returned (labels, inputs): return the corrupted inputs first, then the labels")
        if seed == 0:
            again = _pair(c, c.call(*args, MASK, p), tuple(ids.shape))
            if not (torch.equal(again[0], inputs) and torch.equal(again[1], labels)):
                raise Fail("your result changes from one call to the next with the same arguments: use the random "
                           "numbers passed in (u_choose, u_how, random_ids) — do not draw your own with "
                           "torch.rand or torch.randint")
        variants = {
            "a [CLS], [SEP] or [PAD] was chosen: never choose a position where `special` is True":
                dict(ignore_special=True),
            "you chose special positions only: `special` is True where a position must NOT be chosen "
            "([CLS], [SEP], [PAD]), so the chosen ones are those where it is False": dict(special_only=True),
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
        hint = ("first decide which positions are chosen (never special ones), then, among the chosen only, "
                "split them by u_how into the [MASK], random and unchanged shares")
        c.name_mistake(inputs, want_inputs, mistakes)
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
        label_mistakes = {msg: _mask_variant(*args, MASK, p, **kw)[1] for msg, kw in label_variants.items()
                          if not torch.equal(_mask_variant(*args, MASK, p, **kw)[1], want_labels)}
        unchosen = want_labels == ref.IGNORE
        if torch.equal(labels[~unchosen], want_labels[~unchosen]) and unchosen.any():
            other = labels[unchosen].unique()
            if other.numel() == 1 and other.item() != ref.IGNORE:
                raise Fail(f"unchosen positions must be labelled -100 (IGNORE), not {other.item()}: -100 is the "
                           "label F.cross_entropy skips (its ignore_index)")
        c.name_mistake(labels, want_labels, label_mistakes)
        how = _mask_where(inputs, labels, args, MASK, p)
        if how:
            raise Fail(f"with p={p}, {how} — the 80/10/10 rule, among the chosen positions only: [MASK] when "
                       "u_how < 0.8, the random character when 0.8 ≤ u_how < 0.9, unchanged otherwise")
        c.close(inputs, want_inputs, mistakes, what=f"your inputs (p={p})", hint=hint, axes=("batch", "position"))
        c.close(labels, want_labels, label_mistakes, what=f"your labels (p={p})", axes=("batch", "position"),
                hint="a label is the original character where a position was chosen, and -100 everywhere else")


EMBEDDINGS_LAYOUT = ("token = nn.Embedding(vocab_size, d_model), segment = nn.Embedding(n_segments, d_model), "
                     "position = nn.Embedding(max_len, d_model), norm = nn.LayerNorm(d_model, eps=eps), "
                     "dropout = nn.Dropout(dropout)")


def _embeddings(e, ids, segments, *, token=True, segment=True, position=True, norm="after", offset=0):
    """The reference embedding layer `e` (its weights) with one of the usual mistakes."""
    B, T = ids.shape
    positions = e.position(torch.arange(B))[:, None] if position == "batch" else \
        e.position(torch.arange(offset, T + offset)) if position else 0
    parts = [e.token(ids) if token else 0, e.segment(segments) if segment else 0, positions]
    if norm == "token only":
        return e.norm(parts[0]) + parts[1] + parts[2]
    if norm == "each":
        return sum(e.norm(t) for t in parts)
    x = sum(parts)
    if norm == "plain":
        return F.layer_norm(x, x.shape[-1:], eps=e.norm.eps)
    return e.norm(x) if norm == "after" else x


_EMBEDDING_MISTAKES = {
    "the segment embedding is missing: add the segment table's lookup, so that sentences A and B differ":
        dict(segment=False),
    "the position embedding is missing: add the position table's lookup for the positions 0 … T − 1, or the "
    "order of the characters is lost (chapter 04)": dict(position=False),
    "the token embedding is missing: the token table's lookup of the ids is the first of the three terms":
        dict(token=False),
    "the layer norm is missing: normalise the sum of the three lookups, then apply dropout": dict(norm="none"),
    "the layer norm is applied to the token embedding alone; it normalises the sum of all three":
        dict(norm="token only"),
    "you normalised each table's lookup on its own and added the results: add the three lookups first, then "
    "apply one layer norm to the sum": dict(norm="each"),
    "positions start at 1: the first token is position 0 (positions 0 … T − 1)": dict(offset=1),
    "your positions count the batch (0 … B − 1, one per sequence): the positions run along the sequence, "
    "0 … T − 1 with T = ids.size(1)": dict(position="batch"),
    "your layer norm has no weight and bias of its own (F.layer_norm without them): use the layout's "
    "self.norm, an nn.LayerNorm, whose weight and bias are learned": dict(norm="plain"),
}


def _lookup_probe(module, ids, segments):
    """What the student's forward looks up in its position and segment tables (forward pre-hooks on
    `self.position` and `self.segment`): a message naming ids used as positions, positions that run along the
    batch, or segments that are ignored when given — or None."""
    seen = {}
    handles = []
    for name in ("position", "segment"):
        table = getattr(module, name, None)
        if isinstance(table, nn.Embedding):
            handles.append(table.register_forward_pre_hook(
                lambda _, given, name=name: seen.setdefault(name, []).append(given[0].detach().clone())))
    try:
        with torch.no_grad():
            module(ids.clone(), segments.clone())
    except Exception:
        pass  # what was looked up before the error is what counts here
    finally:
        for h in handles:
            h.remove()
    B, T = ids.shape
    for pos in seen.get("position", []):
        try:
            as_ids = torch.equal(torch.broadcast_to(pos, ids.shape), ids)
        except RuntimeError:
            as_ids = False
        if as_ids:
            return ("your position lookup is given the token ids: the positions are 0 … T − 1 along the length "
                    "axis, not the token ids — the same positions for every row, whatever the tokens")
        if pos.dim() >= 2 and pos.size(-2) == B > 1 and (pos != pos[..., :1, :]).any():
            if (pos == pos[..., :1]).all():  # constant along each row, one number per row: the batch index
                return ("your positions count the batch (they differ from row to row): positions run along the "
                        "length axis, not the batch — 0 … T − 1 with T = ids.size(1), the same for every row")
            return ("your positions differ from row to row — are they made from the token ids? The positions "
                    "are 0 … T − 1 along the length axis, the same for every row, whatever the tokens")
    looked_up = seen.get("segment", [])
    if looked_up and segments.any() and not any(seg.any() for seg in looked_up):
        return ("your segment lookup gets only zeros although segments were given: the segments argument is "
                "ignored when it is given — use zeros only when segments is None")
    return None


@exercise
def BertEmbeddings(c):
    """Checks the class BertEmbeddings(vocab_size, d_model, max_len=128, n_segments=2, dropout=0.1, eps=1e-12):
    forward(ids (B, T) long, segments (B, T) long or None = all 0) -> (B, T, d_model) =
    dropout(LayerNorm(token(ids) + segment(segments) + position(0 … T-1))). Reference: course_lib.bert.BertEmbeddings."""
    c.defaults(ref.BertEmbeddings)
    cls = c.fn
    V, d, max_len, B = 30, 16, 12, 3
    g = torch.Generator().manual_seed(0)
    ids = torch.randint(5, V, (B, 7), generator=g)
    segments = torch.tensor([[0, 0, 0, 1, 1, 1, 1], [0, 0, 1, 1, 1, 1, 1], [0, 0, 0, 0, 0, 1, 1]])
    theirs = m.randomize(ref.BertEmbeddings(V, d, max_len, dropout=0.0), 0).eval()
    mine = m.load(c, m.build(c, cls, V, d, max_len, 2, 0.0), theirs, EMBEDDINGS_LAYOUT, ordered=True)
    norm = getattr(mine, "norm", None)
    c.expect(not isinstance(norm, nn.LayerNorm) or norm.eps == theirs.norm.eps,
             f"your layer norm has eps={getattr(norm, 'eps', None)}, the exercise passes eps (here "
             f"{theirs.norm.eps}) on to the layer norm: eps=eps")
    with torch.no_grad():
        for T in (7, 5):
            what = f"BertEmbeddings({V}, {d}, max_len={max_len}) on ids {(B, T)}"
            try:
                out = m.forward(c, mine, ids[:, :T], segments[:, :T], what=what)
            except Fail as e:
                probed = _lookup_probe(mine, ids[:, :T], segments[:, :T])
                if probed:
                    raise Fail(probed) from None
                if "must match the size" in str(e) and f"({max_len})" in str(e):
                    raise Fail(f"{e} — the position table has max_len rows; look up only the positions 0 … T − 1, "
                               "not self.position.weight (the whole table)") from None
                if "must match the size" in str(e) and f"({B})" in str(e) and f"({T})" in str(e):
                    raise Fail(f"{e} — your positions count the batch (ids.size(0) = B = {B}): the positions run "
                               f"along the sequence, 0 … T − 1 with T = ids.size(1) = {T}") from None
                raise
            try:
                out = c.tensor(out, shape=(B, T, d), dtype=torch.float32, what=f"the output of {what}")
                c.close(out, theirs(ids[:, :T], segments[:, :T]), {
                    msg: _embeddings(theirs, ids[:, :T], segments[:, :T], **kw)
                    for msg, kw in _EMBEDDING_MISTAKES.items()},
                    what=f"the output of {what}", hint="look up the three tables, add them, then layer norm and "
                                                       "dropout", axes=("batch", "position", None))
            except Fail as e:
                probed = _lookup_probe(mine, ids[:, :T], segments[:, :T])
                raise Fail(probed or str(e)) from None
        try:
            out = m.forward(c, mine, ids, what="your forward with segments=None")
        except Fail as e:
            raise Fail(f"{e} — segments=None must mean one sentence: every segment id 0 (a tensor of zeros shaped "
                       "like ids)") from None
        c.close(c.tensor(out, shape=(B, 7, d), what="the output with segments=None"), theirs(ids), mistakes={
            "with segments=None your positions are not in segment 0: None means a single sentence, every segment "
            "id 0": theirs(ids, torch.ones_like(ids))},
            what="the output with segments=None", hint="segments=None means every position is in segment 0")
    try:
        m.forward(c, mine, torch.randint(5, V, (1, max_len + 1)), what="your forward")
        c.expect(False, f"a sequence longer than max_len={max_len} must raise an error; yours did not")
    except Fail as e:
        if "must raise an error" in str(e):
            raise
    three = m.build(c, cls, V, d, max_len, 3, 0.0)
    rows = getattr(getattr(three, "segment", None), "num_embeddings", 3)
    c.expect(rows == 3, f"BertEmbeddings({V}, {d}, {max_len}, n_segments=3) has a segment table of {rows} rows: "
                        "build it from the argument n_segments, not a fixed number")
    m.device_probe(c, mine, ids, segments, what="BertEmbeddings' forward")
    m.device_probe(c, mine, ids, what="BertEmbeddings' forward with segments=None")

    def make(p):
        return m.load(c, m.build(c, cls, V, d, max_len, 2, p), theirs, EMBEDDINGS_LAYOUT)
    m.dropout_probe(c, make, lambda e: e(ids, segments), what="BertEmbeddings")
    mine_p = make(0.5).train()
    theirs_p = m.load(c, ref.BertEmbeddings(V, d, max_len, dropout=0.5), theirs, EMBEDDINGS_LAYOUT).train()
    e = theirs_p
    variants = {
        "dropout applied to each of the three lookups: add them, normalise the sum, then apply dropout once, to "
        "the layer norm's output": lambda: e.norm(e.dropout(e.token(ids)) + e.dropout(e.segment(segments))
                                                  + e.dropout(e.position(torch.arange(ids.size(1))))),
        "your dropout comes before the layer norm: normalise the sum first, then apply dropout to the layer "
        "norm's output": lambda: e.norm(e.dropout(_embeddings(e, ids, segments, norm="none"))),
    }
    with torch.no_grad(), torch.random.fork_rng(devices=[]):
        outs = []
        for run in [lambda: mine_p(ids, segments), lambda: theirs_p(ids, segments), *variants.values()]:
            torch.manual_seed(11)  # the same dropout masks for all, drawn in the same order
            outs.append(run())
    out = c.tensor(outs[0], shape=outs[1].shape, what="your output in training mode")
    c.close(out, outs[1], dict(zip(variants, outs[2:])), what="your output in training mode (with the "
            "reference's random seed)", hint="dropout is the last step, applied once to the layer norm's output")
    m.gradient_probe(c, mine, theirs, lambda e: e(ids, segments), what="BertEmbeddings")
