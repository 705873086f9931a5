"""Chapter 06's answers: cls_pool, mean_pool, max_pool — hidden (B, T, d), mask (B, T) bool (True = real)."""
import torch

from . import right, wrong

# --- cls_pool -> (B, d): the vector at position 0 -------------------------------------------------------------


@wrong("cls_pool", "last position")
def cls_pool(hidden, mask):
    return hidden[:, -1]


@wrong("cls_pool", "last real token")
def cls_pool(hidden, mask):  # noqa: F811
    last = mask.sum(dim=1) - 1
    return hidden[torch.arange(hidden.size(0)), last]


@wrong("cls_pool", "batch axis")
def cls_pool(hidden, mask):  # noqa: F811
    return hidden[0]


@wrong("cls_pool", "the batch) is missing")
def cls_pool(hidden, mask):  # noqa: F811
    return hidden[0, 0]


@wrong("cls_pool", "kept the token axis")
def cls_pool(hidden, mask):  # noqa: F811
    return hidden[:, :1]


@wrong("cls_pool", "second token")
def cls_pool(hidden, mask):  # noqa: F811
    return hidden[:, 1]


@wrong("cls_pool", "mean pooling")
def cls_pool(hidden, mask):  # noqa: F811
    return hidden.mean(dim=1)


@wrong("cls_pool", "transposed")
def cls_pool(hidden, mask):  # noqa: F811
    return hidden[:, 0].T


@wrong("cls_pool", "first element of the batch")
def cls_pool(hidden, mask):  # noqa: F811 (the batch-of-one view: every row gets sequence 0's [CLS])
    return hidden[0, 0].expand(hidden.size(0), -1)


@wrong("cls_pool", "float64")
def cls_pool(hidden, mask):  # noqa: F811
    return torch.from_numpy(hidden.numpy()[:, 0].astype("float64"))


@wrong("cls_pool", "one axis too few")
def cls_pool(hidden, mask):  # noqa: F811
    return hidden[:, 0, 0]


@wrong("cls_pool", "no tanh")
def cls_pool(hidden, mask):  # noqa: F811 (BERT's pooler squash, without its layer)
    return torch.tanh(hidden[:, 0])


@right("cls_pool")
def cls_pool(hidden, mask):  # noqa: F811
    return torch.stack([h[0] for h in hidden])


@right("cls_pool")
def cls_pool(hidden, mask):  # noqa: F811
    return hidden.select(1, 0) * mask[:, :1]


@right("cls_pool")
def cls_pool(hidden, mask):  # noqa: F811
    return hidden.transpose(0, 1)[0].clone()


# --- mean_pool -> (B, d): the average over the real tokens --------------------------------------------------


@wrong("mean_pool", "padding is counted")
def mean_pool(hidden, mask):
    return hidden.mean(dim=1)


@wrong("mean_pool", "full length T")
def mean_pool(hidden, mask):  # noqa: F811
    return (hidden * mask.unsqueeze(-1)).mean(dim=1)


@wrong("mean_pool", "forgot to divide")
def mean_pool(hidden, mask):  # noqa: F811
    return (hidden * mask.unsqueeze(-1)).sum(dim=1)


@wrong("mean_pool", "keepdim=True")
def mean_pool(hidden, mask):  # noqa: F811
    return (hidden * mask.unsqueeze(-1)).sum(dim=1) / mask.sum(dim=1).clamp(min=1)


@wrong("mean_pool", "NaN")
def mean_pool(hidden, mask):  # noqa: F811
    m = mask.unsqueeze(-1).float()
    return (hidden * m).sum(dim=1) / m.sum(dim=1)


@wrong("mean_pool", "unsqueeze(-1)")
def mean_pool(hidden, mask):  # noqa: F811 (the mask's new axis in the middle, not at the end)
    m = mask.unsqueeze(1).float()
    return (hidden * m).sum(dim=1) / m.sum(dim=-1).clamp(min=1)


@wrong("mean_pool", "other way round")
def mean_pool(hidden, mask):  # noqa: F811
    m = mask.unsqueeze(-1)
    n = m.sum(dim=1).clamp(min=1)
    return hidden.masked_fill(m, 0.0).sum(dim=1) / n


@wrong("mean_pool", "~mask")
def mean_pool(hidden, mask):  # noqa: F811
    pad = (1 - mask).unsqueeze(-1)
    return hidden.masked_fill(pad.bool(), 0.0).sum(1) / mask.sum(1, keepdim=True).clamp(min=1)


@wrong("mean_pool", "first element of the batch")
def mean_pool(hidden, mask):  # noqa: F811 (only sequence 0's length)
    n = int(mask[0].sum())
    return hidden[:, :n].mean(dim=1)


@wrong("mean_pool", "float64")
def mean_pool(hidden, mask):  # noqa: F811
    m = mask.unsqueeze(-1).double()
    return (hidden * m).sum(dim=1) / m.sum(dim=1).clamp(min=1)


@wrong("mean_pool", "the batch) is missing")
def mean_pool(hidden, mask):  # noqa: F811
    return hidden[mask].mean(dim=0)


@wrong("mean_pool", "[CLS]")
def mean_pool(hidden, mask):  # noqa: F811 (leaves [CLS] out of the average)
    m = mask[:, 1:].unsqueeze(-1).float()
    return (hidden[:, 1:] * m).sum(dim=1) / m.sum(dim=1).clamp(min=1)


@wrong("mean_pool", "device")
def mean_pool(hidden, mask):  # noqa: F811 (the mask rebuilt from the lengths, on the CPU)
    lengths = mask.sum(dim=1, keepdim=True)
    m = (torch.arange(hidden.size(1)) < lengths).unsqueeze(-1)
    return (hidden * m).sum(dim=1) / lengths.clamp(min=1)


@wrong("mean_pool", "whole batch's mean")
def mean_pool(hidden, mask):  # noqa: F811 (hidden[mask] flattens the batch)
    B = hidden.size(0)
    return hidden[mask].mean(0).expand(B, -1)


@wrong("mean_pool", "keepdim=True")
def mean_pool(hidden, mask):  # noqa: F811 (the count lost its axis)
    m = mask.float()
    return (hidden * m.unsqueeze(-1)).sum(1) / m.sum(1)


@wrong("mean_pool", "own factor")
def mean_pool(hidden, mask):  # noqa: F811 (one too many in the count, "to avoid dividing by 0")
    m = mask.unsqueeze(-1).float()
    count = m.sum(1)
    return (hidden * m).sum(1) / (count + 1)


@right("mean_pool")
def mean_pool(hidden, mask):  # noqa: F811 (one sequence at a time: padding sits at the end)
    out = []
    for h, m in zip(hidden, mask):
        n = int(m.sum())
        out.append(h[:n].mean(dim=0) if n > 0 else torch.zeros_like(h[0]))
    return torch.stack(out)


@right("mean_pool")
def mean_pool(hidden, mask):  # noqa: F811
    m = mask.float()
    return torch.einsum("btd,bt->bd", hidden, m) / m.sum(dim=1, keepdim=True).clamp(min=1e-9)


@right("mean_pool")
def mean_pool(hidden, mask):  # noqa: F811
    kept = torch.where(mask[..., None], hidden, torch.nan)
    return torch.nanmean(kept, dim=1).nan_to_num(0.0)


@right("mean_pool")
def mean_pool(hidden, mask):  # noqa: F811
    w = mask.float()
    w = w / w.sum(dim=-1, keepdim=True).clamp(min=1)
    return (w.unsqueeze(1) @ hidden).squeeze(1)


# --- max_pool -> (B, d): each feature's largest value over the real tokens ----------------------------------


@wrong("max_pool", "padding zeros win")
def max_pool(hidden, mask):
    return (hidden * mask.unsqueeze(-1)).amax(dim=1)


@wrong("max_pool", "padding zeros win")
def max_pool(hidden, mask):  # noqa: F811
    return hidden.masked_fill(~mask.unsqueeze(-1), 0.0).amax(dim=1)


@wrong("max_pool", ".values")
def max_pool(hidden, mask):  # noqa: F811
    top = hidden.masked_fill(~mask.unsqueeze(-1), float("-inf")).max(dim=1)
    return torch.where(mask.any(dim=1, keepdim=True), top, 0.0)


@wrong("max_pool", "other way round")
def max_pool(hidden, mask):  # noqa: F811
    return torch.where(mask[..., None], float("-inf"), hidden).amax(dim=1)


@wrong("max_pool", "max of nothing")
def max_pool(hidden, mask):  # noqa: F811
    return hidden.masked_fill(~mask.unsqueeze(-1), float("-inf")).amax(dim=1)


@wrong("max_pool", "max of nothing")
def max_pool(hidden, mask):  # noqa: F811 (any() over the whole batch, not per sequence)
    top = hidden.masked_fill(~mask.unsqueeze(-1), float("-inf")).amax(dim=1)
    return top if mask.any() else torch.zeros_like(top)


@wrong("max_pool", "smallest")
def max_pool(hidden, mask):  # noqa: F811
    low = hidden.masked_fill(~mask[..., None], float("inf")).min(dim=1).values
    return low * mask.any(dim=1, keepdim=True)


@wrong("max_pool", "padding takes part")
def max_pool(hidden, mask):  # noqa: F811
    return hidden.amax(dim=1)


@wrong("max_pool", "clipped")
def max_pool(hidden, mask):  # noqa: F811 (clamp to get rid of -inf also removes the negative maxima)
    top = hidden.masked_fill(~mask.unsqueeze(-1), float("-inf")).amax(dim=1)
    return top.clamp(min=0.0)


@wrong("max_pool", "unsqueeze(-1)")
def max_pool(hidden, mask):  # noqa: F811
    top = hidden.masked_fill(~mask.unsqueeze(1), float("-inf")).amax(dim=1)
    return torch.where(mask.any(dim=1, keepdim=True), top, 0.0)


@wrong("max_pool", "first element of the batch")
def max_pool(hidden, mask):  # noqa: F811 (a loop over the batch with sequence 0's length for all)
    length = mask[0].sum()
    return torch.stack([h[:length].amax(dim=0) for h in hidden])


@wrong("max_pool", "pooled over the features")
def max_pool(hidden, mask):  # noqa: F811
    return hidden.masked_fill(~mask.unsqueeze(-1), float("-inf")).amax(dim=-1)


@wrong("max_pool", "in place")
def max_pool(hidden, mask):  # noqa: F811
    hidden[~mask] = float("-inf")
    top = hidden.amax(dim=1)
    return torch.where(mask.any(dim=1, keepdim=True), top, 0.0)


@wrong("max_pool", "indices?")
def max_pool(hidden, mask):  # noqa: F811 (torch.max's second half: the positions of the maxima)
    m = mask.unsqueeze(-1)
    return hidden.masked_fill(~m, float("-inf")).max(1)[1].float()


@wrong("max_pool", "indices?")
def max_pool(hidden, mask):  # noqa: F811 (argmax: where the maximum sits, not what it is)
    return hidden.masked_fill(~mask.unsqueeze(-1), float("-inf")).argmax(dim=1)


@right("max_pool")
def max_pool(hidden, mask):  # noqa: F811
    top = hidden.masked_fill(~mask[..., None], -1e9).max(dim=1).values
    return top * mask.any(dim=1, keepdim=True)


@right("max_pool")
def max_pool(hidden, mask):  # noqa: F811 (a loop: padding sits at the end)
    out = torch.zeros_like(hidden[:, 0])
    for b in range(hidden.size(0)):
        n = int(mask[b].sum())
        if n > 0:
            out[b] = hidden[b, :n].amax(dim=0)
    return out


@right("max_pool")
def max_pool(hidden, mask):  # noqa: F811
    top = torch.where(mask.unsqueeze(-1), hidden, float("-inf")).amax(dim=1)
    return torch.nan_to_num(top, neginf=0.0)


@right("max_pool")
def max_pool(hidden, mask):  # noqa: F811 (log of the mask: 0 at real tokens, -inf at padding)
    top = (hidden + torch.log(mask.float()).unsqueeze(-1)).amax(dim=1)
    return torch.where(torch.isinf(top), torch.zeros_like(top), top)


@wrong("cls_pool", "batch of one sequence")
def cls_pool(hidden, mask):  # noqa: F811
    return hidden[:, :1].squeeze()


@wrong("mean_pool", "no gradient flows")
def mean_pool(hidden, mask):  # noqa: F811 (the result detached)
    m = mask[..., None].float()
    return ((hidden * m).sum(1) / m.sum(1).clamp(min=1)).detach()
