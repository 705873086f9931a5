"""Exercise checks for chapter 01: text as vectors."""
import torch

from .. import text
from ._core import exercise

__all__ = ["one_hot", "embed", "sequence_logits"]


def _gen(seed):
    return torch.Generator().manual_seed(seed)


@exercise
def one_hot(c):
    """Checks one_hot(ids (T,) long, vocab_size) -> (T, vocab_size) float. Reference: course_lib.text.one_hot."""
    for ids, V in [(torch.tensor([2, 0, 3]), 5), (torch.tensor([4, 4, 1, 0]), 6), (torch.tensor([7]), 8)]:
        want = text.one_hot(ids, V)
        out = c.call(ids, V)
        if isinstance(out, torch.Tensor) and not out.is_floating_point() and out.shape == want.shape:
            kind = "booleans" if out.dtype == torch.bool else "integers"
            c.expect(False, f"your one-hot vectors are {kind}: make them float (e.g. .float()), "
                            "so that they can be multiplied by a weight matrix")
        out = c.tensor(out, shape=want.shape, what="your one-hot matrix")
        left, right = torch.zeros_like(want), torch.zeros_like(want)
        left[torch.arange(len(ids)), (ids - 1) % V] = 1
        right[torch.arange(len(ids)), (ids + 1) % V] = 1
        c.close(out, want, {
            "each row should hold a single 1, at the character's id (yours has several)": torch.ones_like(want),
            "the 1s sit one column too far left: row t needs its 1 in column ids[t], not ids[t] - 1": left,
            "the 1s sit one column too far right: row t needs its 1 in column ids[t], not ids[t] + 1": right,
            "the 1s mark positions, not ids: put the 1 of row t in column ids[t]":
                torch.eye(len(ids), V),
        }, what="your one-hot matrix", hint="row t is all zeros except a 1 in column ids[t]")
    c.expect(out.sum().item() == len(ids), "every row must sum to exactly 1")


@exercise
def embed(c):
    """Checks embed(ids (T,), W (V, d)) -> (T, d) = one_hot(ids) @ W. Reference: `W[ids]`, i.e. nn.Embedding."""
    V, d = 7, 5
    W = torch.randn(V, d, generator=_gen(1))
    for ids in [torch.tensor([3, 0, 6, 3]), torch.tensor([5]), torch.tensor([1, 2, 3, 4, 5, 6, 0, 1])]:
        out = c.tensor(c.call(ids, W), shape=(len(ids), d), what="your embedding matrix")
        x = text.one_hot(ids, V)
        c.close(out, x @ W, {
            "you returned W's first rows in order (positions, not ids): row t must be W[ids[t]]": W[: len(ids)],
            "off by one: row t must be W[ids[t]]": W[(ids + 1) % V],
            "you summed the embeddings: keep one row per character": (x @ W).sum(0, keepdim=True).expand(len(ids), d),
        }, what="your embedding matrix", hint="one_hot(ids, V) has shape (T, V); multiplied by W (V, d) it gives (T, d)")


@exercise
def sequence_logits(c):
    """Checks sequence_logits(features (B,T,d), W (d,C)) -> (B, C): sum the token features, then project.
    Reference: `features.sum(dim=1) @ W` (one output per sequence)."""
    B, T, d, C = 3, 5, 4, 2
    x = torch.randn(B, T, d, generator=_gen(2))
    W = torch.randn(d, C, generator=_gen(3))
    out = c.call(x, W)
    if isinstance(out, torch.Tensor) and tuple(out.shape) == (B, T, C):
        c.expect(False, "that is one output per token (B, T, C): add the token features up over the "
                        "length axis (dim=1) first, to get one output per sequence")
    if isinstance(out, torch.Tensor) and tuple(out.shape) == (T, C):
        c.expect(False, "you added up over the batch (dim=0): add up over the tokens of each sequence (dim=1)")
    out = c.tensor(out, shape=(B, C), what="your output")
    c.close(out, x.sum(1) @ W, {
        "you took only the first token's features: add up all of them (dim=1)": x[:, 0] @ W,
        "you took only the last token's features: add up all of them (dim=1)": x[:, -1] @ W,
        "you averaged the tokens: this exercise adds them up (sum, not mean)": x.mean(1) @ W,
    }, what="your output", hint="features.sum(dim=1) has shape (B, d); then @ W gives (B, C)")
    x2 = torch.randn(1, 9, d, generator=_gen(4))
    out = c.tensor(c.call(x2, W), shape=(1, C), what="your output for a batch of one sequence (B = 1)")
    c.close(out, x2.sum(1) @ W, what="your output for a batch of one longer sequence")
