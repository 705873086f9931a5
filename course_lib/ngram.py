"""Counting baselines for next-character prediction: the opponents a language model has to beat.

Every function here counts in the training ids and returns log-probabilities; none is trained by gradient.
    unigram_log_probs   P(next)                      character frequencies, no context
    bigram_log_probs    P(next | previous)           add-alpha smoothing (the simplest fix for unseen pairs)
    kneser_ney          P(next | one or two previous) interpolated Kneser-Ney, the classic strong n-gram model
Loss = mean of -log P over the validation text, in nats per character, as for the GPT.
"""
import torch


def unigram_log_probs(ids, vocab_size):
    """(V,) log P(token), from counts plus one (so no token has probability 0)."""
    counts = torch.bincount(ids, minlength=vocab_size).float() + 1.0
    return (counts / counts.sum()).log()


def bigram_log_probs(ids, vocab_size, alpha=1.0):
    """The bigram baseline: (V, V) table of log P(next = j | previous = i) from a 1-D tensor of ids.

    Counts every adjacent pair (ids[t], ids[t + 1]), adds alpha to every cell (add-alpha smoothing, so an
    unseen pair is unlikely but not impossible) and normalises each row.
    """
    counts = torch.zeros(vocab_size, vocab_size, device=ids.device)
    counts.index_put_((ids[:-1], ids[1:]), torch.ones(len(ids) - 1, device=ids.device), accumulate=True)
    counts += alpha
    return (counts / counts.sum(dim=1, keepdim=True)).log()


def _counts(keys):
    """Sorted distinct int64 keys and how often each occurs."""
    return torch.unique(keys, return_counts=True)


def _lookup(table, queries):
    """How often each query key occurs in `table` (from _counts): 0 for a key never seen."""
    keys, counts = table
    if len(keys) == 0:
        return torch.zeros(len(queries))
    at = torch.searchsorted(keys, queries).clamp(max=len(keys) - 1)
    return torch.where(keys[at] == queries, counts[at], 0).float()


def kneser_ney(train_ids, ids, vocab_size, order=2, discount=0.75):
    """log P(ids[t] | the order - 1 ids before it) for t = order - 1 .. len(ids) - 1, interpolated Kneser-Ney.

    Each seen n-gram gives up `discount` of its count; what is freed goes to the next lower order, weighted by
    how many different characters the context was seen before. The lowest order is not the plain frequency but
    the *continuation* probability: how many different characters a character follows (+1, so an unseen
    character keeps a little). order=2: a bigram model, order=3: a trigram model. Returns (len(ids) - order + 1,).
    """
    V = vocab_size
    if order not in (2, 3):
        raise ValueError(f"order must be 2 (bigram) or 3 (trigram), got {order}")
    pairs = _counts(train_ids[:-1] * V + train_ids[1:])
    followers = torch.bincount(pairs[0] % V, minlength=V).float()          # distinct left neighbours of each token
    p = ((followers + 1) / (followers.sum() + V))[ids[order - 1:]]          # continuation probability
    for n in range(2, order + 1):
        grams = pairs if n == 2 else _counts((train_ids[:-2] * V + train_ids[1:-1]) * V + train_ids[2:])
        context = torch.zeros(len(ids) - order + 1, dtype=torch.long)       # the n - 1 ids before each target
        for k in range(n - 1, 0, -1):
            context = context * V + ids[order - 1 - k:len(ids) - k]
        seen = _lookup(grams, context * V + ids[order - 1:])
        total = _lookup(_counts(grams[0] // V), context)                    # distinct n-grams with this context
        context_count = _lookup(_counts(_context_keys(train_ids, n, V)), context)
        freed = torch.where(context_count > 0, discount * total / context_count.clamp(min=1), 1.0)
        p = (seen - discount).clamp(min=0) / context_count.clamp(min=1) + freed * p
    return p.log()


def _context_keys(train_ids, n, V):
    """The (n - 1)-id contexts of every n-gram in the training ids, as int64 keys."""
    keys = torch.zeros(len(train_ids) - n + 1, dtype=torch.long)
    for k in range(n - 1):
        keys = keys * V + train_ids[k:len(train_ids) - n + 1 + k]
    return keys
