"""Chapter 01's answers: one_hot, embed, sequence_logits."""
import numpy as np
import torch
import torch.nn.functional as F

from . import right, wrong

# --- one_hot(ids (T,) long, vocab_size) -> (T, vocab_size) float ------------------------------------------


@wrong("one_hot", "integers")
def one_hot(ids, vocab_size):
    return F.one_hot(ids, vocab_size)


@wrong("one_hot", "booleans")
def one_hot(ids, vocab_size):  # noqa: F811
    return ids[:, None] == torch.arange(vocab_size)


@wrong("one_hot", "transposed")
def one_hot(ids, vocab_size):  # noqa: F811
    return torch.eye(vocab_size)[:, ids]


@wrong("one_hot", "one column too far left")
def one_hot(ids, vocab_size):  # noqa: F811
    return torch.eye(vocab_size)[ids - 1]


@wrong("one_hot", "several")
def one_hot(ids, vocab_size):  # noqa: F811
    out = torch.zeros(len(ids), vocab_size)
    out[:, ids] = 1.0
    return out


@wrong("one_hot", "every row but the first")
def one_hot(ids, vocab_size):  # noqa: F811
    out = torch.zeros(len(ids), vocab_size)
    out[0, ids[0]] = 1.0
    return out


@wrong("one_hot", "vocab_size")
def one_hot(ids, vocab_size):  # noqa: F811
    return F.one_hot(ids).float()


@wrong("one_hot", "27 instead of")
def one_hot(ids, vocab_size):  # noqa: F811
    out = torch.zeros(len(ids), 27)
    out[torch.arange(len(ids)), ids] = 1.0
    return out


@wrong("one_hot", "dtype torch.float64")
def one_hot(ids, vocab_size):  # noqa: F811
    return torch.from_numpy(np.eye(vocab_size)[ids.numpy()])


@wrong("one_hot", "mark positions, not ids")
def one_hot(ids, vocab_size):  # noqa: F811
    return torch.eye(len(ids), vocab_size)


@wrong("one_hot", "in place")
def one_hot(ids, vocab_size):  # noqa: F811
    return torch.zeros(len(ids), vocab_size).scatter_(1, ids.unsqueeze_(1), 1.0)


@wrong("one_hot", "expected a torch.Tensor")
def one_hot(ids, vocab_size):  # noqa: F811
    return [[1.0 if j == i else 0.0 for j in range(vocab_size)] for i in ids]


@wrong("one_hot", "device")
def one_hot(ids, vocab_size):  # noqa: F811
    return torch.eye(vocab_size)[ids]


@wrong("one_hot", "must be vocab_size")
def one_hot(ids, vocab_size):  # noqa: F811 (as wide as the text is long)
    out = torch.zeros(len(ids), len(ids))
    out[torch.arange(len(ids)), ids] = 1.0
    return out


@wrong("one_hot", "belongs in a column")
def one_hot(ids, vocab_size):  # noqa: F811 (the ids pick rows)
    out = torch.zeros(len(ids), vocab_size)
    out[ids] = 1.0
    return out


@right("one_hot")
def one_hot(ids, vocab_size):  # noqa: F811
    return torch.eye(vocab_size, device=ids.device)[ids]


@right("one_hot")
def one_hot(ids, vocab_size):  # noqa: F811
    return (ids.unsqueeze(1) == torch.arange(vocab_size, device=ids.device)).float()


@right("one_hot")
def one_hot(ids, vocab_size):  # noqa: F811
    out = ids.new_zeros(len(ids), vocab_size, dtype=torch.float32)
    for t, i in enumerate(ids):
        out[t, i] = 1
    return out


@right("one_hot")
def one_hot(ids, vocab_size):  # noqa: F811
    return torch.zeros(len(ids), vocab_size, device=ids.device).scatter(1, ids[:, None], 1.0)


# --- embed(ids (T,), W (V, d)) -> (T, d) ----------------------------------------------------------------


@wrong("embed", "transposed")
def embed(ids, W):
    return F.one_hot(ids, W.shape[0]).float() @ W.T


@wrong("embed", "dtype")
def embed(ids, W):  # noqa: F811
    return F.one_hot(ids, W.shape[0]) @ W


@wrong("embed", "off by one")
def embed(ids, W):  # noqa: F811
    return W[ids - 1]


@wrong("embed", "positions, not ids")
def embed(ids, W):  # noqa: F811
    return W[: len(ids)]


@wrong("embed", "summed")
def embed(ids, W):  # noqa: F811
    return (F.one_hot(ids, W.shape[0]).float() @ W).sum(0, keepdim=True)


@wrong("embed", "W's number of rows")
def embed(ids, W):  # noqa: F811
    return F.one_hot(ids).float() @ W


@wrong("embed", "made on the CPU")
def embed(ids, W):  # noqa: F811 (a device error 'fixed' with .cpu())
    return torch.eye(W.shape[0])[ids.cpu()] @ W.cpu()


@wrong("embed", "the one-hot matrix itself")
def embed(ids, W):  # noqa: F811 (the product forgotten)
    return F.one_hot(ids, W.shape[0]).float()


@wrong("embed", "an id below 0")
def embed(ids, W):  # noqa: F811 (ids shifted as if they counted from 1)
    return F.one_hot(ids - 1, W.shape[0]).float() @ W


@wrong("embed", "W's number of rows")
def embed(ids, W):  # noqa: F811
    return F.one_hot(ids, 7).float() @ W


@wrong("embed", "W's number of rows")
def embed(ids, W):  # noqa: F811
    return F.one_hot(ids, W.shape[1]).float() @ W


@wrong("embed", "all of W")
def embed(ids, W):  # noqa: F811
    return F.one_hot(torch.arange(W.shape[0]), W.shape[0]).float() @ W


@wrong("embed", "float64")
def embed(ids, W):  # noqa: F811
    return torch.from_numpy(np.eye(W.shape[0])[ids.numpy()] @ W.numpy().astype(np.float64))


@wrong("embed", "every row but the first")
def embed(ids, W):  # noqa: F811
    out = torch.zeros(len(ids), W.shape[1])
    out[0] = W[ids[0]]
    return out


@wrong("embed", "is a row of W")
def embed(ids, W):  # noqa: F811
    return torch.nn.Embedding(W.shape[0], W.shape[1])(ids).detach()


@wrong("embed", "entry by entry")
def embed(ids, W):  # noqa: F811
    return F.one_hot(ids, W.shape[0]).float() * W


@wrong("embed", "transposed")
def embed(ids, W):  # noqa: F811
    return W.T @ F.one_hot(ids, W.shape[0]).float().T


@wrong("embed", "entry by entry")
def embed(ids, W):  # noqa: F811 (* for the product, then a sum)
    return (F.one_hot(ids, W.shape[0]).float() * W).sum(-1)


@wrong("embed", "picked columns of W")
def embed(ids, W):  # noqa: F811 (the ids taken for columns)
    return W[:, ids].T


@wrong("embed", "W's number of rows")
def embed(ids, W):  # noqa: F811 (the library's one_hot, as wide as the text)
    from course_lib import text
    return text.one_hot(ids, len(ids)) @ W


@right("embed")
def embed(ids, W):  # noqa: F811
    return W[ids]


@right("embed")
def embed(ids, W):  # noqa: F811
    return F.embedding(ids, W)


@right("embed")
def embed(ids, W):  # noqa: F811
    return torch.einsum("tv,vd->td", torch.eye(W.shape[0], device=W.device)[ids], W)


@right("embed")
def embed(ids, W):  # noqa: F811
    return torch.stack([W[i] for i in ids])


@right("embed")
def embed(ids, W):  # noqa: F811
    return W.index_select(0, ids)


# --- sequence_logits(features (B, T, d), W (d, C)) -> (B, C) ----------------------------------------------


@wrong("sequence_logits", "one output per token")
def sequence_logits(features, W):
    return features @ W


@wrong("sequence_logits", "over the batch")
def sequence_logits(features, W):  # noqa: F811
    return features.sum(0) @ W


@wrong("sequence_logits", "averaged")
def sequence_logits(features, W):  # noqa: F811
    return features.mean(dim=1) @ W


@wrong("sequence_logits", "last token")
def sequence_logits(features, W):  # noqa: F811
    return features[:, -1] @ W


@wrong("sequence_logits", "over the feature axis")
def sequence_logits(features, W):  # noqa: F811
    return features.sum(-1) @ W


@wrong("sequence_logits", "keepdim")
def sequence_logits(features, W):  # noqa: F811
    return features.sum(1, keepdim=True) @ W


@wrong("sequence_logits", "order")
def sequence_logits(features, W):  # noqa: F811
    return W @ features.sum(1)


@wrong("sequence_logits", "batch")
def sequence_logits(features, W):  # noqa: F811
    return features[0].sum(0) @ W


@wrong("sequence_logits", "3 instead of")
def sequence_logits(features, W):  # noqa: F811
    return torch.stack([features[b].sum(0) @ W for b in range(3)])


@wrong("sequence_logits", "maximum")
def sequence_logits(features, W):  # noqa: F811
    return features.max(dim=1).values @ W


@wrong("sequence_logits", "in place")
def sequence_logits(features, W):  # noqa: F811
    s = features[:, 0]
    for t in range(1, features.shape[1]):
        s += features[:, t]
    return s @ W


@wrong("sequence_logits", "first element of the batch")
def sequence_logits(features, W):  # noqa: F811
    out = torch.zeros(features.shape[0], W.shape[1])
    out[0] = features[0].sum(0) @ W
    return out


@wrong("sequence_logits", "dtype torch.float64")
def sequence_logits(features, W):  # noqa: F811
    return torch.from_numpy(features.numpy().sum(1).astype(np.float64) @ W.numpy())


@wrong("sequence_logits", "left out the first token")
def sequence_logits(features, W):  # noqa: F811
    total = features[:, 0] * 0
    for t in range(1, features.shape[1]):
        total = total + features[:, t]
    return total @ W


@right("sequence_logits")
def sequence_logits(features, W):  # noqa: F811
    return (features @ W).sum(dim=1)


@right("sequence_logits")
def sequence_logits(features, W):  # noqa: F811
    return torch.einsum("btd,dc->bc", features, W)


@right("sequence_logits")
def sequence_logits(features, W):  # noqa: F811
    s = torch.zeros_like(features[:, 0])
    for t in range(features.shape[1]):
        s = s + features[:, t]
    return torch.matmul(s, W)


@right("sequence_logits")
def sequence_logits(features, W):  # noqa: F811
    return features.mean(-2) @ W * features.shape[-2]


@wrong("sequence_logits", "no gradient flows")
def sequence_logits(features, W):  # noqa: F811 (computed without the graph)
    with torch.no_grad():
        return features.sum(dim=1) @ W
