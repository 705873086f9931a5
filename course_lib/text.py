"""Characters to numbers: a character tokenizer with special tokens, one-hot vectors and padding.

As in the notes, every character (字) is a token. Ids 0-4 are the special tokens
[PAD] [UNK] [CLS] [SEP] [MASK]; the characters follow, the most frequent first.
"""
from collections import Counter

import torch
import torch.nn.functional as F

SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


class CharTokenizer:
    """Maps characters to ids and back.

    >>> tok = CharTokenizer.from_texts(["床前明月光"])
    >>> tok.encode("明月")
    [8, 9]
    """

    def __init__(self, chars):
        chars = list(chars)
        clash = [c for c in chars if c in SPECIALS]
        if clash or len(set(chars)) != len(chars):
            raise ValueError("characters must be distinct and must not repeat the special tokens")
        self.vocab = SPECIALS + chars
        self.stoi = {s: i for i, s in enumerate(self.vocab)}
        self.pad_id, self.unk_id, self.cls_id, self.sep_id, self.mask_id = range(len(SPECIALS))

    @classmethod
    def from_texts(cls, texts, min_count=1):
        """Build the vocabulary from a list of strings: frequent characters first, ties by code point."""
        if isinstance(texts, str):
            raise TypeError("from_texts takes a list of strings; wrap a single text as [text]")
        counts = Counter(ch for t in texts for ch in t)
        chars = sorted((c for c, n in counts.items() if n >= min_count), key=lambda c: (-counts[c], c))
        return cls(chars)

    def __len__(self):
        return len(self.vocab)

    def __repr__(self):
        return f"CharTokenizer({len(self)} tokens: {len(SPECIALS)} special + {len(self) - len(SPECIALS)} characters)"

    def encode(self, text, strict=False):
        """str -> list of ids. Unknown characters become [UNK] (strict=True raises instead)."""
        if not isinstance(text, str):
            raise TypeError(f"encode takes a str, got {type(text).__name__}; for many texts use encode_batch")
        unknown = sorted({ch for ch in text if ch not in self.stoi})
        if unknown and strict:
            raise ValueError(f"characters not in the vocabulary: {unknown}; "
                             "build the tokenizer from texts that contain them, or use strict=False to map them to [UNK]")
        return [self.stoi.get(ch, self.unk_id) for ch in text]

    def decode(self, ids, skip_special=False):
        """ids (list or tensor) -> str. skip_special=True drops [PAD], [CLS], … from the result."""
        if isinstance(ids, torch.Tensor):
            ids = ids.tolist()
        bad = [i for i in ids if not 0 <= i < len(self.vocab)]
        if bad:
            raise ValueError(f"ids out of range 0..{len(self.vocab) - 1}: {bad[:5]}")
        return "".join(self.vocab[i] for i in ids if not (skip_special and i < len(SPECIALS)))

    def encode_batch(self, texts, length=None):
        """list of str -> (ids (B, T) long, mask (B, T) bool, True = a real character), padded with [PAD]."""
        return pad_batch([self.encode(t) for t in texts], self.pad_id, length)


def pad_batch(seqs, pad_id=0, length=None):
    """Pad (or cut) lists of ids to one length. -> (ids (B, T) long, mask (B, T) bool, True = real)."""
    if not seqs:
        raise ValueError("pad_batch needs at least one sequence")
    T = length or max(len(s) for s in seqs)
    ids = torch.full((len(seqs), T), pad_id, dtype=torch.long)
    mask = torch.zeros(len(seqs), T, dtype=torch.bool)
    for row, s in enumerate(seqs):
        s = list(s)[:T]
        ids[row, :len(s)] = torch.tensor(s, dtype=torch.long)
        mask[row, :len(s)] = True
    return ids, mask


def one_hot(ids, vocab_size):
    """ids (...) long -> (..., vocab_size) float: a 1 at each id's position, 0 elsewhere."""
    ids = torch.as_tensor(ids)
    if ids.dtype not in (torch.int64, torch.int32, torch.int16, torch.uint8):
        raise TypeError(f"one_hot takes integer ids, got dtype {ids.dtype}")
    if ids.numel() and (ids.min() < 0 or ids.max() >= vocab_size):
        raise ValueError(f"ids must lie in 0..{vocab_size - 1}, got {ids.min().item()}..{ids.max().item()}")
    return F.one_hot(ids.long(), vocab_size).float()
