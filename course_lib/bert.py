"""BERT: a feature extractor (特征提取器) pre-trained on raw text, then fine-tuned with a small head.

The original architecture (Devlin et al., 2018), small enough for a laptop:

    embeddings  = token + segment + position, then layer norm and dropout       (B, T, d_model)
    n_layers x  BertLayer: self-attention -> add & norm -> GELU feed-forward -> add & norm  (post-LN)
    pooler      = tanh(dense(hidden[:, 0])), the [CLS] vector                     (B, d_model)

Pre-training (上游预训练) puts two heads on top: masked-LM (guess the hidden characters) and
next-sentence prediction (is B the sentence that followed A?). Fine-tuning (下游微调) replaces them with a
classification head on a pooled vector: the [CLS] pooler (法一), the mean (法二) or the max (法三) of the
token vectors, padding excluded.

Masks are boolean, True = a real token. Shapes: batch B, length T, width d_model, heads h, layers L.
`load_hf_bert` copies the weights of a Hugging Face `BertModel` (or its state dict) into `Bert`.
"""
from copy import deepcopy
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

from .attention import MultiHeadAttention
from .text import SPECIALS, CharTokenizer, pad_batch
from .train import adamw, train

IGNORE = -100  # label of positions the masked-LM loss skips (F.cross_entropy's ignore_index)
CHECKPOINT = Path(__file__).parent / "data" / "bert_zh_reviews.pt"  # made by data/make_bert_checkpoint.py


class BertEmbeddings(nn.Module):
    """ids (B, T), segments (B, T) -> (B, T, d_model) = LayerNorm(token + segment + position), then dropout."""

    def __init__(self, vocab_size, d_model, max_len=128, n_segments=2, dropout=0.1, eps=1e-12):
        super().__init__()
        self.token = nn.Embedding(vocab_size, d_model)
        self.segment = nn.Embedding(n_segments, d_model)
        self.position = nn.Embedding(max_len, d_model)
        self.norm = nn.LayerNorm(d_model, eps=eps)
        self.dropout = nn.Dropout(dropout)

    def forward(self, ids, segments=None):
        B, T = ids.shape
        if T > self.position.num_embeddings:
            raise ValueError(f"sequence of length {T} is longer than max_len={self.position.num_embeddings}")
        if segments is None:
            segments = torch.zeros_like(ids)
        positions = torch.arange(T, device=ids.device)
        x = self.token(ids) + self.segment(segments) + self.position(positions)
        return self.dropout(self.norm(x))


class FeedForward(nn.Module):
    """(B, T, d_model) -> (B, T, d_model): widen to d_ff, GELU, back to d_model. One token at a time."""

    def __init__(self, d_model, d_ff):
        super().__init__()
        self.up = nn.Linear(d_model, d_ff)
        self.down = nn.Linear(d_ff, d_model)

    def forward(self, x):
        return self.down(F.gelu(self.up(x)))


class BertLayer(nn.Module):
    """One encoder layer, post-LN as in the original BERT: x = norm(x + attn(x)); x = norm(x + ff(x))."""

    def __init__(self, d_model, n_heads, d_ff, dropout=0.1, eps=1e-12):
        super().__init__()
        self.attn = MultiHeadAttention(d_model, n_heads, dropout=dropout)
        self.norm1 = nn.LayerNorm(d_model, eps=eps)
        self.ff = FeedForward(d_model, d_ff)
        self.norm2 = nn.LayerNorm(d_model, eps=eps)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x, mask=None, need_weights=False):
        """x: (B, T, d_model), mask: bool (B, 1, 1, T) -> (x, weights (B, h, T, T) or None)."""
        a, weights = self.attn(x, mask=mask, need_weights=need_weights)
        x = self.norm1(x + self.dropout(a))
        x = self.norm2(x + self.dropout(self.ff(x)))
        return x, weights


class Pooler(nn.Module):
    """hidden (B, T, d_model) -> (B, d_model): tanh of a dense layer on the [CLS] vector (position 0)."""

    def __init__(self, d_model):
        super().__init__()
        self.dense = nn.Linear(d_model, d_model)

    def forward(self, hidden):
        return torch.tanh(self.dense(hidden[:, 0]))


class Bert(nn.Module):
    """The BERT feature extractor: embedding layer, n_layers BERT layers, pooler.

    forward(ids, segments=None, mask=None, need_weights=False)
      ids (B, T) long, segments (B, T) long in {0, 1} (default all 0), mask (B, T) bool, True = real token
      -> hidden (B, T, d_model), pooled (B, d_model), weights (B, L, h, T, T) or None
    embeddings: the class of the input layer, called as embeddings(vocab_size, d_model, max_len, n_segments,
    dropout, eps) (default BertEmbeddings; chapter 05 passes the student's own).
    """

    def __init__(self, vocab_size, d_model=128, n_layers=2, n_heads=4, d_ff=None, max_len=128,
                 n_segments=2, dropout=0.1, eps=1e-12, embeddings=None):
        super().__init__()
        self.config = dict(vocab_size=vocab_size, d_model=d_model, n_layers=n_layers, n_heads=n_heads,
                           d_ff=d_ff or 4 * d_model, max_len=max_len, n_segments=n_segments,
                           dropout=dropout, eps=eps)
        self.embeddings = (embeddings or BertEmbeddings)(vocab_size, d_model, max_len, n_segments, dropout, eps)
        self.layers = nn.ModuleList(BertLayer(d_model, n_heads, d_ff or 4 * d_model, dropout, eps)
                                    for _ in range(n_layers))
        self.pooler = Pooler(d_model)
        self.apply(init_weights)

    def forward(self, ids, segments=None, mask=None, need_weights=False):
        if ids.dim() != 2:
            raise ValueError(f"ids must be (B, T), got shape {tuple(ids.shape)}")
        if mask is not None and mask.shape != ids.shape:
            raise ValueError(f"mask must have the shape of ids {tuple(ids.shape)}, got {tuple(mask.shape)}")
        x = self.embeddings(ids, segments)
        keys = None if mask is None else mask.bool()[:, None, None, :]  # every query may see the real keys
        weights = []
        for layer in self.layers:
            x, w = layer(x, keys, need_weights)
            weights.append(w)
        weights = torch.stack(weights, dim=1) if need_weights else None
        return x, self.pooler(x), weights


def init_weights(module, std=0.02):
    """BERT's initialisation: normal(0, 0.02) weights, zero biases, layer norms at (1, 0)."""
    if isinstance(module, (nn.Linear, nn.Embedding)):
        nn.init.normal_(module.weight, std=std)
    if isinstance(module, nn.Linear) and module.bias is not None:
        nn.init.zeros_(module.bias)
    if isinstance(module, nn.LayerNorm):
        nn.init.ones_(module.weight)
        nn.init.zeros_(module.bias)


# ---------------------------------------------------------------- pre-training heads (上游预训练)

class MaskedLMHead(nn.Module):
    """hidden (B, T, d_model) -> logits (B, T, vocab): dense, GELU, layer norm, then a linear layer to the vocabulary.

    BertForPretraining ties that last layer's weight to the token embedding (one matrix for reading and writing
    characters), as the original BERT does.
    """

    def __init__(self, d_model, vocab_size, eps=1e-12):
        super().__init__()
        self.dense = nn.Linear(d_model, d_model)
        self.norm = nn.LayerNorm(d_model, eps=eps)
        self.decoder = nn.Linear(d_model, vocab_size)

    def forward(self, hidden):
        return self.decoder(self.norm(F.gelu(self.dense(hidden))))


class BertForPretraining(nn.Module):
    """Bert + masked-LM head + next-sentence head (a 2-way linear layer on the pooled [CLS] vector).

    forward(ids, segments, mask, need_weights=False)
      -> mlm_logits (B, T, vocab), nsp_logits (B, 2), weights (B, L, h, T, T) or None
    """

    def __init__(self, bert):
        super().__init__()
        self.bert = bert
        c = bert.config
        self.mlm = MaskedLMHead(c["d_model"], c["vocab_size"], eps=c["eps"])
        self.nsp = nn.Linear(c["d_model"], 2)
        self.mlm.apply(init_weights)
        init_weights(self.nsp)
        self.mlm.decoder.weight = bert.embeddings.token.weight  # weight tying

    def forward(self, ids, segments=None, mask=None, need_weights=False):
        hidden, pooled, weights = self.bert(ids, segments, mask, need_weights)
        return self.mlm(hidden), self.nsp(pooled), weights


def pretraining_loss(model, batch):
    """Masked-LM cross-entropy (on the chosen positions only) + next-sentence cross-entropy.

    batch: dict with ids, segments, mask, labels (IGNORE where not chosen), is_next (B,) long.
    Returns (total, mlm, nsp) as scalar tensors. The vocabulary logits are computed only where a
    character was chosen (15 % of the positions), which saves most of the head's work.
    """
    hidden, pooled, _ = model.bert(batch["ids"], batch["segments"], batch["mask"])
    chosen = batch["labels"] != IGNORE
    mlm = F.cross_entropy(model.mlm(hidden[chosen]), batch["labels"][chosen])
    nsp = F.cross_entropy(model.nsp(pooled), batch["is_next"])
    return mlm + nsp, mlm, nsp


# ---------------------------------------------------------------- building the input

def sentence_pair(a, b, cls_id, sep_id):
    """Two lists of ids -> (ids, segments): [CLS] a [SEP] b [SEP], segment 0 up to the first [SEP], then 1."""
    ids = [cls_id] + list(a) + [sep_id] + list(b) + [sep_id]
    segments = [0] * (len(a) + 2) + [1] * (len(b) + 1)
    return ids, segments


def encode(tok, texts, max_len=64):
    """Single sentences for BERT: [CLS] text [SEP], cut to max_len and padded.

    -> (ids (B, T) long, mask (B, T) bool, True = real token). Segments are all 0 (the default).
    """
    seqs = [[tok.cls_id] + tok.encode(t)[:max_len - 2] + [tok.sep_id] for t in texts]
    return pad_batch(seqs, tok.pad_id)


def segment_ids(ids, sep_id, pad_id=0):
    """ids (B, T) of [CLS] A [SEP] B [SEP] [PAD]... -> segments (B, T) long.

    0 for [CLS], A and the first [SEP]; 1 for B and the second [SEP]; 0 for padding.
    """
    is_sep = (ids == sep_id).long()
    seps_before = is_sep.cumsum(dim=1) - is_sep  # [SEP]s strictly before each position
    return ((seps_before >= 1) & (ids != pad_id)).long()


def mask_tokens(ids, special, u_choose, u_how, random_ids, mask_id, p=0.15):
    """Masked-LM corruption with the random numbers given, so the result is reproducible and checkable.

    ids (B, T) long; special (B, T) bool, True where a token must never be chosen ([CLS], [SEP], [PAD]).
    u_choose, u_how (B, T) uniform in [0, 1); random_ids (B, T) long, random characters.
    A position is chosen when it is not special and u_choose < p. A chosen position becomes
    [MASK] when u_how < 0.8, the random character when 0.8 <= u_how < 0.9, and stays itself otherwise.
    Returns (inputs (B, T), labels (B, T)): labels hold the original id at chosen positions, IGNORE elsewhere.
    """
    chosen = ~special & (u_choose < p)
    inputs = torch.where(chosen & (u_how < 0.8), torch.full_like(ids, mask_id), ids)
    inputs = torch.where(chosen & (u_how >= 0.8) & (u_how < 0.9), random_ids, inputs)
    labels = torch.where(chosen, ids, torch.full_like(ids, IGNORE))
    return inputs, labels


def random_masking(ids, tok, p=0.15, generator=None):
    """Draw the random numbers for `mask_tokens`: ids (B, T) -> (inputs, labels).

    [CLS], [SEP] and [PAD] are never chosen; random replacements are characters (never special tokens).
    """
    special = (ids == tok.pad_id) | (ids == tok.cls_id) | (ids == tok.sep_id)
    u_choose = torch.rand(ids.shape, generator=generator)
    u_how = torch.rand(ids.shape, generator=generator)
    n_special = tok.mask_id + 1
    random_ids = torch.randint(n_special, len(tok), ids.shape, generator=generator)
    return mask_tokens(ids, special, u_choose.to(ids.device), u_how.to(ids.device),
                       random_ids.to(ids.device), tok.mask_id, p)


class PairSampler:
    """Makes next-sentence pairs from a list of texts, each text cut into two halves.

    Half the pairs are (first half, its own second half) -> is_next = 1;
    half are (first half, the second half of another text) -> is_next = 0.
    Texts are encoded with `tok`; each half keeps at most (max_len - 3) // 2 characters.
    """

    def __init__(self, texts, tok, max_len=64):
        self.tok = tok
        self.max_len = max_len
        half = (max_len - 3) // 2
        self.pairs = []
        for t in texts:
            ids = tok.encode(t)
            if len(ids) < 4:
                continue
            cut = _cut_point(t)
            a, b = ids[:cut][-half:], ids[cut:][:half]
            self.pairs.append((a, b))
        if len(self.pairs) < 2:
            raise ValueError("PairSampler needs at least two texts of 4 or more characters")

    def __len__(self):
        return len(self.pairs)

    def batch(self, batch_size, generator=None, p=0.15, device="cpu"):
        """-> dict(ids, segments, mask, labels, is_next, clean): a masked, padded batch of sentence pairs."""
        n = len(self.pairs)
        rows = torch.randint(n, (batch_size,), generator=generator)
        is_next = (torch.rand(batch_size, generator=generator) < 0.5).long()
        other = (rows + torch.randint(1, n, (batch_size,), generator=generator)) % n  # never the same text
        seqs, segs = [], []
        for r, nxt, o in zip(rows.tolist(), is_next.tolist(), other.tolist()):
            a = self.pairs[r][0]
            b = self.pairs[r][1] if nxt else self.pairs[o][1]
            ids, seg = sentence_pair(a, b, self.tok.cls_id, self.tok.sep_id)
            seqs.append(ids)
            segs.append(seg)
        T = max(len(s) for s in seqs)
        ids = torch.full((batch_size, T), self.tok.pad_id, dtype=torch.long)
        segments = torch.zeros(batch_size, T, dtype=torch.long)
        for i, (s, g) in enumerate(zip(seqs, segs)):
            ids[i, :len(s)] = torch.tensor(s)
            segments[i, :len(g)] = torch.tensor(g)
        inputs, labels = random_masking(ids, self.tok, p, generator)
        batch = dict(ids=inputs, segments=segments, mask=ids != self.tok.pad_id, labels=labels,
                     is_next=is_next, clean=ids)
        return {k: v.to(device) for k, v in batch.items()}


def _cut_point(text):
    """Where to split a text into two 'sentences': after the punctuation mark nearest its middle."""
    marks = [i + 1 for i, ch in enumerate(text[:-1]) if ch in "，。！？；,.!?;、…~"]
    middle = len(text) // 2
    return min(marks, key=lambda i: abs(i - middle)) if marks else middle


# ---------------------------------------------------------------- fine-tuning (下游微调): three poolers

def cls_pool(hidden, mask=None):
    """法一: keep only the [CLS] vector. hidden (B, T, d) -> (B, d)."""
    return hidden[:, 0]


def mean_pool(hidden, mask):
    """法二: the average of the real tokens' vectors (padding excluded). (B, T, d), (B, T) bool -> (B, d).

    A row without any real token gives zeros.
    """
    m = mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * m).sum(dim=1) / m.sum(dim=1).clamp(min=1)


def max_pool(hidden, mask):
    """法三: the largest value of each feature over the real tokens (padding excluded). -> (B, d).

    Padding is filled with -inf before the max, so it can never win, even when every feature is negative.
    A row without any real token gives zeros.
    """
    m = mask.bool().unsqueeze(-1)
    top = hidden.masked_fill(~m, float("-inf")).amax(dim=1)
    return torch.where(m.any(dim=1), top, torch.zeros_like(top))


POOLS = {"cls": cls_pool, "mean": mean_pool, "max": max_pool}


class BertClassifier(nn.Module):
    """Bert + pooling + dropout + linear head: the downstream model.

    pool="cls" uses BERT's own pooler (tanh(dense([CLS])), 法一); "mean" (法二) and "max" (法三) pool the last
    hidden states over the real tokens.
    forward(ids, mask, segments=None, need_weights=False) -> logits (B, n_classes), weights or None
    """

    def __init__(self, bert, n_classes=2, pool="cls", dropout=0.1):
        super().__init__()
        if pool not in POOLS:
            raise ValueError(f"pool must be one of {list(POOLS)}, got {pool!r}")
        self.bert = bert
        self.pool = pool
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(bert.config["d_model"], n_classes)
        init_weights(self.head)

    def forward(self, ids, mask, segments=None, need_weights=False):
        hidden, pooled, weights = self.bert(ids, segments, mask, need_weights)
        if self.pool != "cls":
            pooled = POOLS[self.pool](hidden, mask)
        return self.head(self.dropout(pooled)), weights


def accuracy(model, ids, mask, y, batch_size=250):
    """Share of the labels y (N,) a BertClassifier gets right on ids, mask (N, T), in eval mode."""
    model.eval()
    device = next(model.parameters()).device
    right = 0
    with torch.no_grad():
        for i in range(0, len(y), batch_size):
            logits, _ = model(ids[i:i + batch_size].to(device), mask[i:i + batch_size].to(device))
            right += (logits.argmax(-1).cpu() == y[i:i + batch_size]).sum().item()
    return right / len(y)


def fine_tune(encoder, ids, mask, y, pool="mean", lr=1e-4, head_lr=1e-3, freeze=False, steps=150,
              batch_size=32, seed=0, eval_fn=None, eval_every=50, desc="fine-tuning", progress=True):
    """Train BertClassifier(a copy of `encoder`) on the labelled rows ids, mask (N, T), y (N,) -> (model, History).

    The encoder's weights learn at `lr`, the new head at `head_lr` (AdamW, weight decay 0.01). freeze=True is
    feature extraction (特征提取): the encoder is kept fixed, in eval mode, and only the head learns.
    Each step draws `batch_size` rows at random and cuts the batch to its longest row.
    """
    torch.manual_seed(seed)
    device = next(encoder.parameters()).device
    model = BertClassifier(deepcopy(encoder), n_classes=2, pool=pool).to(device)
    if freeze:
        model.bert.requires_grad_(False)
    g = torch.Generator().manual_seed(seed)

    def get_batch(step):
        rows = torch.randint(len(y), (batch_size,), generator=g)
        T = int(mask[rows].sum(1).max())
        return ids[rows, :T].to(device), mask[rows, :T].to(device), y[rows].to(device)

    def loss_fn(model, batch):
        if freeze:
            model.bert.eval()  # a fixed feature extractor: no dropout inside it
        logits, _ = model(batch[0], batch[1])
        return F.cross_entropy(logits, batch[2])

    parts = [(model.head, head_lr)] + ([] if freeze else [(model.bert, lr)])  # each with its own learning rate
    optimizer = torch.optim.AdamW([group for part, rate in parts for group in adamw(part, rate, 0.01).param_groups])
    return model, train(model, loss_fn, get_batch, steps=steps, optimizer=optimizer, eval_fn=eval_fn,
                        eval_every=eval_every, desc=desc, progress=progress)


# ---------------------------------------------------------------- checkpoints

def save_checkpoint(path, model, tok, dtype=torch.float32, **info):
    """Save a Bert (or a BertForPretraining, heads included): weights in `dtype`, configuration, the tokenizer's
    characters, and any `info`."""
    bert = model.bert if isinstance(model, BertForPretraining) else model
    heads = None
    if isinstance(model, BertForPretraining):
        heads = {k: v.to(dtype) for k, v in model.state_dict().items()
                 if not k.startswith("bert.") and k != "mlm.decoder.weight"}  # the decoder is the token table
    torch.save({"config": bert.config, "chars": tok.vocab[len(SPECIALS):], "info": info, "heads": heads,
                "state_dict": {k: v.to(dtype) for k, v in bert.state_dict().items()}}, path)


def load_checkpoint(path, device="cpu", heads=False):
    """-> (model, tok, info) from a file written by `save_checkpoint`; the weights come back in float32.

    model is a Bert, or with heads=True a BertForPretraining with its masked-LM and next-sentence heads.
    """
    ck = torch.load(path, map_location="cpu", weights_only=True)
    bert = Bert(**ck["config"])
    bert.load_state_dict(ck["state_dict"])
    model = bert
    if heads:
        if ck.get("heads") is None:
            raise ValueError(f"{path} holds no pre-training heads (it was saved from a Bert)")
        model = BertForPretraining(bert)
        model.load_state_dict({**{"bert." + k: v for k, v in ck["state_dict"].items()}, **ck["heads"],
                               "mlm.decoder.weight": ck["state_dict"]["embeddings.token.weight"]})
    return model.to(device), CharTokenizer(ck["chars"]), ck["info"]


# ---------------------------------------------------------------- Hugging Face weights

def load_hf_bert(model, hf):
    """Copy the weights of a Hugging Face BERT into `model` (a `Bert`, or a `BertForPretraining`).

    hf: a transformers `BertModel` / `BertForPreTraining`, or its state dict (keys with or without the
    "bert." prefix). The sizes must agree (vocab, width, layers, heads, max_len). With a pre-trained
    checkpoint, use its own vocabulary too (e.g. transformers.BertTokenizer), not the course's CharTokenizer:

        from transformers import BertModel                     # needs the network once
        hf = BertModel.from_pretrained("bert-base-chinese")
        c = hf.config
        bert = Bert(c.vocab_size, c.hidden_size, c.num_hidden_layers, c.num_attention_heads,
                    c.intermediate_size, c.max_position_embeddings, c.type_vocab_size, eps=c.layer_norm_eps)
        load_hf_bert(bert, hf)

    Returns `model`. Raises a KeyError naming the first missing weight, ValueError on a shape mismatch.
    """
    sd = hf.state_dict() if isinstance(hf, nn.Module) else dict(hf)
    sd = {(k[len("bert."):] if k.startswith("bert.") else k): v for k, v in sd.items()}
    bert = model.bert if isinstance(model, BertForPretraining) else model
    names = {
        "embeddings.token.weight": "embeddings.word_embeddings.weight",
        "embeddings.segment.weight": "embeddings.token_type_embeddings.weight",
        "embeddings.position.weight": "embeddings.position_embeddings.weight",
        "embeddings.norm.weight": "embeddings.LayerNorm.weight",
        "embeddings.norm.bias": "embeddings.LayerNorm.bias",
        "pooler.dense.weight": "pooler.dense.weight",
        "pooler.dense.bias": "pooler.dense.bias",
    }
    ours = {"attn.q": "attention.self.query", "attn.k": "attention.self.key", "attn.v": "attention.self.value",
            "attn.out": "attention.output.dense", "norm1": "attention.output.LayerNorm",
            "ff.up": "intermediate.dense", "ff.down": "output.dense", "norm2": "output.LayerNorm"}
    for i in range(len(bert.layers)):
        for mine, theirs in ours.items():
            for p in ("weight", "bias"):
                names[f"layers.{i}.{mine}.{p}"] = f"encoder.layer.{i}.{theirs}.{p}"
    state = {}
    for mine, theirs in names.items():
        if theirs not in sd:
            raise KeyError(f"the Hugging Face weights have no {theirs!r} (needed for {mine!r})")
        state[mine] = sd[theirs]
    target = bert.state_dict()
    for k, v in state.items():
        if target[k].shape != v.shape:
            raise ValueError(f"{k}: course model has shape {tuple(target[k].shape)}, "
                             f"the Hugging Face weight has {tuple(v.shape)}")
    bert.load_state_dict(state)
    if isinstance(model, BertForPretraining) and "cls.predictions.bias" in sd:
        heads = {"mlm.dense.weight": "cls.predictions.transform.dense.weight",
                 "mlm.dense.bias": "cls.predictions.transform.dense.bias",
                 "mlm.norm.weight": "cls.predictions.transform.LayerNorm.weight",
                 "mlm.norm.bias": "cls.predictions.transform.LayerNorm.bias",
                 "mlm.decoder.bias": "cls.predictions.bias",
                 "nsp.weight": "cls.seq_relationship.weight", "nsp.bias": "cls.seq_relationship.bias"}
        with torch.no_grad():
            for mine, theirs in heads.items():
                model.get_parameter(mine).copy_(sd[theirs])
    return model
