"""Chapter 05's answers: segment_ids, mask_tokens, BertEmbeddings."""
import torch
import torch.nn as nn
import torch.nn.functional as F

from . import right, wrong

# --- segment_ids(ids (B, T) of [CLS] A [SEP] B [SEP] [PAD]…, sep_id, pad_id) -> (B, T) long -------------------


@wrong("segment_ids", "first [SEP] closes sentence A")
def segment_ids(ids, sep_id, pad_id=0):
    return (((ids == sep_id).long().cumsum(1) >= 1) & (ids != pad_id)).long()


@wrong("segment_ids", "padding got segment 1")
def segment_ids(ids, sep_id, pad_id=0):  # noqa: F811
    is_sep = (ids == sep_id).long()
    return (is_sep.cumsum(1) - is_sep >= 1).long()


@wrong("segment_ids", "made on the CPU")
def segment_ids(ids, sep_id, pad_id=0):  # noqa: F811 (a loop over lists, turned into a tensor without device=)
    rows = []
    for row in ids.tolist():
        first = row.index(sep_id)
        rows.append([0 if j <= first or t == pad_id else 1 for j, t in enumerate(row)])
    return torch.tensor(rows)


@wrong("segment_ids", "only the first element")
def segment_ids(ids, sep_id, pad_id=0):  # noqa: F811 (written for one sentence pair, ids[0])
    row = ids[0]
    is_sep = (row == sep_id).long()
    return (((is_sep.cumsum(0) - is_sep) >= 1) & (row != pad_id)).long().unsqueeze(0)


@wrong("segment_ids", "batch axis")
def segment_ids(ids, sep_id, pad_id=0):  # noqa: F811
    is_sep = (ids == sep_id).long()
    return ((is_sep.cumsum(0) - is_sep >= 1) & (ids != pad_id)).long()


@wrong("segment_ids", "booleans")
def segment_ids(ids, sep_id, pad_id=0):  # noqa: F811
    is_sep = (ids == sep_id).long()
    return (is_sep.cumsum(1) - is_sep >= 1) & (ids != pad_id)


@wrong("segment_ids", "instead of the arguments sep_id and pad_id")
def segment_ids(ids, sep_id, pad_id=0):  # noqa: F811
    is_sep = (ids == 3).long()
    return ((is_sep.cumsum(1) - is_sep >= 1) & (ids != 0)).long()


@wrong("segment_ids", "the second [SEP] got 0")
def segment_ids(ids, sep_id, pad_id=0):  # noqa: F811
    seps = (ids == sep_id).long().cumsum(1)
    return (seps == 1).long()                      # the second [SEP] and B's end fall out


@wrong("segment_ids", "only the first row")
def segment_ids(ids, sep_id, pad_id=0):  # noqa: F811
    first = (ids[0] == sep_id).nonzero()[0, 0]     # the first row's [SEP] used for every row
    after = torch.arange(ids.size(1)) > first
    return (after[None, :] & (ids != pad_id)).long()


@wrong("segment_ids", "other way round")
def segment_ids(ids, sep_id, pad_id=0):  # noqa: F811
    is_sep = (ids == sep_id).long()
    return ((is_sep.cumsum(1) - is_sep == 0) & (ids != pad_id)).long()


@wrong("segment_ids", "single sentence")
def segment_ids(ids, sep_id, pad_id=0):  # noqa: F811
    where = (ids == sep_id).nonzero()[:, 1].view(ids.size(0), 2)   # assumes two [SEP]s in every row
    pos = torch.arange(ids.size(1))[None, :]
    return ((pos > where[:, :1]) & (pos <= where[:, 1:])).long()


@wrong("segment_ids", "in place")
def segment_ids(ids, sep_id, pad_id=0):  # noqa: F811
    real = ids != pad_id
    ids[ids != sep_id] = 0                         # keep only the [SEP]s… in the caller's tensor
    seen = (ids.cumsum(1) - ids) // sep_id
    return ((seen >= 1) & real).long()


@wrong("segment_ids", "sentence B got 0")
def segment_ids(ids, sep_id, pad_id=0):  # noqa: F811
    out = torch.zeros_like(ids)
    for b in range(ids.size(0)):
        last = (ids[b] == sep_id).nonzero()[-1, 0]   # the row's last [SEP], not its first
        out[b, last + 1:] = 1
    return out * (ids != pad_id)


@wrong("segment_ids", "floats")
def segment_ids(ids, sep_id, pad_id=0):  # noqa: F811
    is_sep = (ids == sep_id).float()
    return (is_sep.cumsum(1) - is_sep).clamp(max=1) * (ids != pad_id)


@right("segment_ids")
def segment_ids(ids, sep_id, pad_id=0):  # noqa: F811
    out = torch.zeros_like(ids)
    for b, row in enumerate(ids.tolist()):
        first = row.index(sep_id)
        for t in range(first + 1, len(row)):
            out[b, t] = int(row[t] != pad_id)
    return out


@right("segment_ids")
def segment_ids(ids, sep_id, pad_id=0):  # noqa: F811
    is_sep = (ids == sep_id).long()
    return (is_sep.cumsum(1) - is_sep) * (ids != pad_id)      # 2 never survives: only padding follows B


@right("segment_ids")
def segment_ids(ids, sep_id, pad_id=0):  # noqa: F811
    first = (ids == sep_id).int().argmax(dim=1, keepdim=True)
    pos = torch.arange(ids.size(1), device=ids.device)
    return torch.where((pos > first) & (ids != pad_id), 1, 0)


@right("segment_ids")
def segment_ids(ids, sep_id, pad_id=0):  # noqa: F811
    seen = F.pad((ids == sep_id).long().cumsum(1)[:, :-1], (1, 0))
    return ((seen > 0) & (ids != pad_id)).long()


# --- mask_tokens(ids, special, u_choose, u_how, random_ids, mask_id, p=0.15) -> (inputs, labels) -------------


def _corrupt(ids, chosen, u_how, random_ids, mask_id):
    """The 80/10/10 rule on the chosen positions (right), for the answers whose mistake lies elsewhere."""
    inputs = torch.where(chosen & (u_how < 0.8), mask_id, ids)
    return torch.where(chosen & (u_how >= 0.8) & (u_how < 0.9), random_ids, inputs)


@wrong("mask_tokens", "never choose a position where `special` is True")
def mask_tokens(ids, special, u_choose, u_how, random_ids, mask_id, p=0.15):
    chosen = u_choose < p
    return _corrupt(ids, chosen, u_how, random_ids, mask_id), torch.where(chosen, ids, -100)


@wrong("mask_tokens", "only 80 %")
def mask_tokens(ids, special, u_choose, u_how, random_ids, mask_id, p=0.15):  # noqa: F811
    chosen = ~special & (u_choose < p)
    return torch.where(chosen, mask_id, ids), torch.where(chosen, ids, -100)


@wrong("mask_tokens", "choose where u_choose < p")
def mask_tokens(ids, special, u_choose, u_how, random_ids, mask_id, p=0.15):  # noqa: F811
    chosen = ~special & (u_choose > p)
    return _corrupt(ids, chosen, u_how, random_ids, mask_id), torch.where(chosen, ids, -100)


@wrong("mask_tokens", "-100")
def mask_tokens(ids, special, u_choose, u_how, random_ids, mask_id, p=0.15):  # noqa: F811
    chosen = ~special & (u_choose < p)
    return _corrupt(ids, chosen, u_how, random_ids, mask_id), ids.clone()


@wrong("mask_tokens", "not -1")
def mask_tokens(ids, special, u_choose, u_how, random_ids, mask_id, p=0.15):  # noqa: F811
    chosen = ~special & (u_choose < p)
    return _corrupt(ids, chosen, u_how, random_ids, mask_id), torch.where(chosen, ids, -1)


@wrong("mask_tokens", "ORIGINAL character")
def mask_tokens(ids, special, u_choose, u_how, random_ids, mask_id, p=0.15):  # noqa: F811
    inputs = _corrupt(ids, ~special & (u_choose < p), u_how, random_ids, mask_id)
    return inputs, torch.where(~special & (u_choose < p), inputs, -100)


@wrong("mask_tokens", "0.8 ≤ u_how < 0.9 your input is the original id")
def mask_tokens(ids, special, u_choose, u_how, random_ids, mask_id, p=0.15):  # noqa: F811
    chosen = ~special & (u_choose < p)
    inputs = torch.where(chosen & (u_how < 0.8), mask_id, ids)
    inputs = torch.where(chosen & (u_how >= 0.9), random_ids, inputs)
    return inputs, torch.where(chosen, ids, -100)


@wrong("mask_tokens", "u_how < 0.8 your input is the random character")
def mask_tokens(ids, special, u_choose, u_how, random_ids, mask_id, p=0.15):  # noqa: F811
    chosen = ~special & (u_choose < p)
    inputs = torch.where(chosen & (u_how < 0.1), mask_id, ids)        # 10 % [MASK], 80 % random
    inputs = torch.where(chosen & (u_how >= 0.1) & (u_how < 0.9), random_ids, inputs)
    return inputs, torch.where(chosen, ids, -100)


@wrong("mask_tokens", "random numbers passed in")
def mask_tokens(ids, special, u_choose, u_how, random_ids, mask_id, p=0.15):  # noqa: F811
    chosen = ~special & (torch.rand(ids.shape) < p)                    # the global RNG, not u_choose
    return _corrupt(ids, chosen, u_how, random_ids, mask_id), torch.where(chosen, ids, -100)


@wrong("mask_tokens", "random numbers passed in")
def mask_tokens(ids, special, u_choose, u_how, random_ids, mask_id, p=0.15):  # noqa: F811
    chosen = ~special & (u_choose < p)
    rnd = torch.randint(5, 60, ids.shape)                              # its own random characters
    return _corrupt(ids, chosen, u_how, rnd, mask_id), torch.where(chosen, ids, -100)


@wrong("mask_tokens", "in place")
def mask_tokens(ids, special, u_choose, u_how, random_ids, mask_id, p=0.15):  # noqa: F811
    chosen = ~special & (u_choose < p)
    labels = torch.where(chosen, ids, -100)
    ids[chosen & (u_how < 0.8)] = mask_id
    rnd = chosen & (u_how >= 0.8) & (u_how < 0.9)
    ids[rnd] = random_ids[rnd]
    return ids, labels


@wrong("mask_tokens", "instead of the argument p")
def mask_tokens(ids, special, u_choose, u_how, random_ids, mask_id, p=0.15):  # noqa: F811
    chosen = ~special & (u_choose < 0.15)
    return _corrupt(ids, chosen, u_how, random_ids, mask_id), torch.where(chosen, ids, -100)


@wrong("mask_tokens", "True where a position must NOT be chosen")
def mask_tokens(ids, special, u_choose, u_how, random_ids, mask_id, p=0.15):  # noqa: F811
    chosen = special & (u_choose < p)
    return _corrupt(ids, chosen, u_how, random_ids, mask_id), torch.where(chosen, ids, -100)


@wrong("mask_tokens", "(labels, inputs)")
def mask_tokens(ids, special, u_choose, u_how, random_ids, mask_id, p=0.15):  # noqa: F811
    chosen = ~special & (u_choose < p)
    return torch.where(chosen, ids, -100), _corrupt(ids, chosen, u_how, random_ids, mask_id)


@wrong("mask_tokens", "only the first row")
def mask_tokens(ids, special, u_choose, u_how, random_ids, mask_id, p=0.15):  # noqa: F811
    inputs, labels = ids.clone(), torch.full_like(ids, -100)
    for t in range(ids.size(1)):                                        # row 0 only
        if not special[0, t] and u_choose[0, t] < p:
            labels[0, t] = ids[0, t]
            if u_how[0, t] < 0.8:
                inputs[0, t] = mask_id
            elif u_how[0, t] < 0.9:
                inputs[0, t] = random_ids[0, t]
    return inputs, labels


@right("mask_tokens")
def mask_tokens(ids, special, u_choose, u_how, random_ids, mask_id, p=0.15):  # noqa: F811
    inputs, labels = ids.clone(), torch.full_like(ids, -100)
    for b in range(ids.size(0)):
        for t in range(ids.size(1)):
            if special[b, t] or u_choose[b, t] >= p:
                continue
            labels[b, t] = ids[b, t]
            if u_how[b, t] < 0.8:
                inputs[b, t] = mask_id
            elif u_how[b, t] < 0.9:
                inputs[b, t] = random_ids[b, t]
    return inputs, labels


@right("mask_tokens")
def mask_tokens(ids, special, u_choose, u_how, random_ids, mask_id, p=0.15):  # noqa: F811
    chosen = (u_choose < p) & special.logical_not()
    to_mask, to_random = chosen & (u_how < 0.8), chosen & (u_how >= 0.8) & (u_how < 0.9)
    inputs = ids.masked_fill(to_mask, mask_id)
    inputs = torch.where(to_random, random_ids, inputs)
    return inputs, ids.masked_fill(~chosen, -100)


@right("mask_tokens")
def mask_tokens(ids, special, u_choose, u_how, random_ids, mask_id, p=0.15):  # noqa: F811
    chosen = (~special & (u_choose < p)).long()
    kind = torch.bucketize(u_how, torch.tensor([0.8, 0.9]), right=True)   # 0 mask, 1 random, 2 keep
    options = torch.stack([torch.full_like(ids, mask_id), random_ids, ids])
    corrupted = options.gather(0, kind[None]).squeeze(0)
    inputs = chosen * corrupted + (1 - chosen) * ids
    return inputs, chosen * ids + (1 - chosen) * -100


# --- BertEmbeddings(vocab_size, d_model, max_len=128, n_segments=2, dropout=0.1, eps=1e-12) --------------------


class BertEmbeddings(nn.Module):
    def __init__(self, vocab_size, d_model, max_len=128, n_segments=2, dropout=0.1, eps=1e-12):
        super().__init__()
        self.token = nn.Embedding(vocab_size, d_model)
        self.segment = nn.Embedding(n_segments, d_model)
        self.position = nn.Embedding(max_len, d_model)
        self.norm = nn.LayerNorm(d_model, eps=eps)
        self.dropout = nn.Dropout(dropout)

    def lookups(self, ids, segments):
        segments = torch.zeros_like(ids) if segments is None else segments
        positions = torch.arange(ids.size(1), device=ids.device)
        return self.token(ids), self.segment(segments), self.position(positions)

    def forward(self, ids, segments=None):
        return self.dropout(self.norm(sum(self.lookups(ids, segments))))


Right = BertEmbeddings


@wrong("BertEmbeddings", "segment embedding is missing")
class BertEmbeddings(Right):  # noqa: F811
    def forward(self, ids, segments=None):
        positions = torch.arange(ids.size(1), device=ids.device)
        return self.dropout(self.norm(self.token(ids) + self.position(positions)))


@wrong("BertEmbeddings", "position embedding is missing")
class BertEmbeddings(Right):  # noqa: F811
    def forward(self, ids, segments=None):
        segments = torch.zeros_like(ids) if segments is None else segments
        return self.dropout(self.norm(self.token(ids) + self.segment(segments)))


@wrong("BertEmbeddings", "positions start at 1")
class BertEmbeddings(Right):  # noqa: F811
    def forward(self, ids, segments=None):
        segments = torch.zeros_like(ids) if segments is None else segments
        positions = torch.arange(1, ids.size(1) + 1, device=ids.device)
        return self.dropout(self.norm(self.token(ids) + self.segment(segments) + self.position(positions)))


@wrong("BertEmbeddings", "layer norm is missing")
class BertEmbeddings(Right):  # noqa: F811
    def forward(self, ids, segments=None):
        return self.dropout(sum(self.lookups(ids, segments)))


@wrong("BertEmbeddings", "before the layer norm")
class BertEmbeddings(Right):  # noqa: F811
    def forward(self, ids, segments=None):
        return self.norm(self.dropout(sum(self.lookups(ids, segments))))


@wrong("BertEmbeddings", "ids for `self.position` on the CPU")
class BertEmbeddings(Right):  # noqa: F811
    def forward(self, ids, segments=None):
        segments = torch.zeros_like(ids) if segments is None else segments
        positions = torch.arange(ids.size(1))                            # on the CPU
        return self.dropout(self.norm(self.token(ids) + self.segment(segments) + self.position(positions)))


@wrong("BertEmbeddings", "build it from the argument n_segments")
class BertEmbeddings(Right):  # noqa: F811
    def __init__(self, vocab_size, d_model, max_len=128, n_segments=2, dropout=0.1, eps=1e-12):
        super().__init__(vocab_size, d_model, max_len, 2, dropout, eps)   # two sentences, always


@wrong("BertEmbeddings", "segments=None must mean")
class BertEmbeddings(Right):  # noqa: F811
    def forward(self, ids, segments=None):
        positions = torch.arange(ids.size(1), device=ids.device)
        return self.dropout(self.norm(self.token(ids) + self.segment(segments) + self.position(positions)))


@wrong("BertEmbeddings", "segment 0")
class BertEmbeddings(Right):  # noqa: F811
    def forward(self, ids, segments=None):
        return super().forward(ids, torch.ones_like(ids) if segments is None else segments)


@wrong("BertEmbeddings", "not self.position.weight")
class BertEmbeddings(Right):  # noqa: F811
    def forward(self, ids, segments=None):
        tok, seg, _ = self.lookups(ids, segments)
        return self.dropout(self.norm(tok + seg + self.position.weight))


@wrong("BertEmbeddings", "each table")
class BertEmbeddings(Right):  # noqa: F811
    def forward(self, ids, segments=None):
        return self.dropout(sum(self.norm(e) for e in self.lookups(ids, segments)))


@wrong("BertEmbeddings", "your positions count the batch")
class BertEmbeddings(Right):  # noqa: F811
    def forward(self, ids, segments=None):
        tok, seg, _ = self.lookups(ids, segments)
        pos = self.position(torch.arange(ids.size(0), device=ids.device))   # B, not T
        return self.dropout(self.norm(tok + seg + pos))


@wrong("BertEmbeddings", "not the token ids")
class BertEmbeddings(Right):  # noqa: F811
    def forward(self, ids, segments=None):
        segments = torch.zeros_like(ids) if segments is None else segments
        x = self.token(ids) + self.segment(segments) + self.position(ids)   # the ids as positions
        return self.dropout(self.norm(x))


@wrong("BertEmbeddings", "are they made from the token ids?")
class BertEmbeddings(Right):  # noqa: F811
    def forward(self, ids, segments=None):
        segments = torch.zeros_like(ids) if segments is None else segments
        positions = ids.clamp(max=self.position.num_embeddings - 1)    # "ids that fit the table"
        return self.dropout(self.norm(self.token(ids) + self.segment(segments) + self.position(positions)))


@wrong("BertEmbeddings", "not the batch")
class BertEmbeddings(Right):  # noqa: F811
    def forward(self, ids, segments=None):
        tok, seg, _ = self.lookups(ids, segments)
        B = ids.size(0)
        pos = self.position(torch.arange(B, device=ids.device)[:, None])   # (B, 1): broadcasts over T
        return self.dropout(self.norm(tok + seg + pos))


@wrong("BertEmbeddings", "segments argument is ignored")
class BertEmbeddings(Right):  # noqa: F811
    def forward(self, ids, segments=None):
        segments = torch.zeros_like(ids)                                  # even when segments are given
        positions = torch.arange(ids.size(1), device=ids.device)
        return self.dropout(self.norm(self.token(ids) + self.segment(segments) + self.position(positions)))


@wrong("BertEmbeddings", "another order")
class BertEmbeddings(Right):  # noqa: F811
    def __init__(self, vocab_size, d_model, max_len=128, n_segments=2, dropout=0.1, eps=1e-12):
        nn.Module.__init__(self)
        self.token = nn.Embedding(vocab_size, d_model)
        self.position = nn.Embedding(max_len, d_model)                    # position before segment
        self.segment = nn.Embedding(n_segments, d_model)
        self.norm = nn.LayerNorm(d_model, eps=eps)
        self.dropout = nn.Dropout(dropout)


@wrong("BertEmbeddings", "eps=eps")
class BertEmbeddings(Right):  # noqa: F811
    def __init__(self, vocab_size, d_model, max_len=128, n_segments=2, dropout=0.1, eps=1e-12):
        super().__init__(vocab_size, d_model, max_len, n_segments, dropout, eps)
        self.norm = nn.LayerNorm(d_model)


@wrong("BertEmbeddings", "in eval mode")
class BertEmbeddings(Right):  # noqa: F811
    def forward(self, ids, segments=None):
        return F.dropout(self.norm(sum(self.lookups(ids, segments))), self.dropout.p)


@wrong("BertEmbeddings", "dropout applied to each of the three lookups")
class BertEmbeddings(Right):  # noqa: F811
    def forward(self, ids, segments=None):
        return self.norm(sum(self.dropout(e) for e in self.lookups(ids, segments)))


@wrong("BertEmbeddings", "never applies dropout")
class BertEmbeddings(Right):  # noqa: F811
    def forward(self, ids, segments=None):
        return self.norm(sum(self.lookups(ids, segments)))


@right("BertEmbeddings")
class BertEmbeddings(Right):  # noqa: F811
    def forward(self, ids, segments=None):
        B, T = ids.shape
        segments = ids.new_zeros(B, T) if segments is None else segments
        positions = torch.arange(T, device=ids.device).unsqueeze(0).expand(B, T)
        x = self.token(ids) + self.segment(segments) + self.position(positions)
        return self.dropout(self.norm(x))


@right("BertEmbeddings")
class BertEmbeddings(Right):  # noqa: F811
    def forward(self, ids, segments=None):
        T = ids.size(1)
        x = self.token(ids) + self.position.weight[:T]
        if segments is not None:
            x = x + self.segment(segments)
        else:
            x = x + self.segment.weight[0]
        x = F.layer_norm(x, x.shape[-1:], self.norm.weight, self.norm.bias, self.norm.eps)
        return F.dropout(x, self.dropout.p, training=self.training)


@right("BertEmbeddings")
class BertEmbeddings(Right):  # noqa: F811
    def forward(self, ids, segments=None):
        if ids.size(1) > self.position.num_embeddings:
            raise ValueError("sequence longer than max_len")
        x = sum(self.lookups(ids, segments))
        mean, var = x.mean(-1, keepdim=True), x.var(-1, keepdim=True, unbiased=False)
        x = (x - mean) / torch.sqrt(var + self.norm.eps) * self.norm.weight + self.norm.bias
        return self.dropout(x)


@wrong("mask_tokens", "not the exercise's p=0.15")
def mask_tokens(ids, special, u_choose, u_how, random_ids, mask_id, p=0.2):  # noqa: F811
    from course_lib.bert import mask_tokens as library
    return library(ids, special, u_choose, u_how, random_ids, mask_id, p)


@wrong("BertEmbeddings", "p=0.1")
class BertEmbeddings(Right):  # noqa: F811 (the rate written in)
    def __init__(self, vocab_size, d_model, max_len=128, n_segments=2, dropout=0.1, eps=1e-12):
        super().__init__(vocab_size, d_model, max_len, n_segments, dropout, eps)
        self.dropout = nn.Dropout(0.1)


@wrong("BertEmbeddings", "no weight and bias of its own")
class BertEmbeddings(Right):  # noqa: F811
    def forward(self, ids, segments=None):
        x = sum(self.lookups(ids, segments))
        return self.dropout(F.layer_norm(x, x.shape[-1:], eps=self.norm.eps))


@wrong("BertEmbeddings", "positions count the batch")
class BertEmbeddings(Right):  # noqa: F811 (len(ids) is the batch size)
    def forward(self, ids, segments=None):
        segments = torch.zeros_like(ids) if segments is None else segments
        positions = self.position(torch.arange(len(ids), device=ids.device))[:, None]
        return self.dropout(self.norm(self.token(ids) + self.segment(segments) + positions))
