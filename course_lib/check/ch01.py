"""Exercise checks for chapter 01: text as vectors."""
import re

import torch

from .. import text
from ._core import exercise
from ._diagnose import product_error, relation

__all__ = ["one_hot", "embed", "sequence_logits"]


def _gen(seed):
    return torch.Generator().manual_seed(seed)


@exercise
def one_hot(c):
    """Checks one_hot(ids (T,) long, vocab_size) -> (T, vocab_size) float. Reference: course_lib.text.one_hot."""
    for ids, V in [(torch.tensor([2, 0, 3]), 5), (torch.tensor([4, 4, 1, 0]), 6), (torch.tensor([7]), 8)]:
        want = text.one_hot(ids, V)
        out = c.call(ids, V, errors={  # every id is below V: an index past N means a table N < V wide
            **({rf"out of bounds for dimension 0 with size {len(ids)}\b": (
                "the ids were used to pick rows (dimension 0) of your matrix, one row per position: each id "
                "belongs in a column — row t gets its 1 in column ids[t], so index with a row index and a "
                "column index together")} if len(ids) < V else {}),
            **{rf"out of bounds for dimension \d+ with size {n}\b": (
                f"an id is at least {n}: your one-hot matrix (or the table it picks from) is only {n} wide, but it "
                f"must be vocab_size ({V}) wide, one column per character of the vocabulary"
                + (" — not len(ids), which would give one column per position" if n == len(ids) else ""))
               for n in range(1, V)}})
        if isinstance(out, torch.Tensor) and not out.is_floating_point() and out.shape == want.shape:
            kind = "booleans" if out.dtype == torch.bool else "integers"
            c.expect(False, f"your one-hot vectors are {kind}: make them float (e.g. .float()), "
                            "so that they can be multiplied by a weight matrix")
        if isinstance(out, torch.Tensor) and out.dim() == 2 and out.shape[0] == len(ids) \
                and out.shape[1] == ids.max() + 1 != V:
            c.expect(False, f"your one-hot vectors are {out.shape[1]} wide, the largest id + 1: their width is "
                            "the vocabulary's size, vocab_size, whatever ids this call happens to hold")
        out = c.tensor(out, shape=want.shape, what="your one-hot matrix")
        binary = bool(((out == 0) | (out == 1)).all())
        if binary and (out.sum(-1) > 1).any() and not torch.equal(out, torch.ones_like(want)):
            c.expect(False, "some rows hold several 1s: row t must have its single 1 in column ids[t] only "
                            "(out[:, ids] = 1, for one, sets every id's column in every row)")
        left, right = torch.zeros_like(want), torch.zeros_like(want)
        left[torch.arange(len(ids)), (ids - 1) % V] = 1
        right[torch.arange(len(ids)), (ids + 1) % V] = 1
        c.close(out, want, {
            "each row should hold a single 1, at the character's id (yours has several)": torch.ones_like(want),
            "the 1s sit one column too far left: row t needs its 1 in column ids[t], not ids[t] - 1": left,
            "the 1s sit one column too far right: row t needs its 1 in column ids[t], not ids[t] + 1": right,
            "the 1s mark positions, not ids: put the 1 of row t in column ids[t]":
                torch.eye(len(ids), V),
            "your matrix has the right shape but no 1s at all: they are never written into it (or written into "
            "a copy, not the matrix you return)": torch.zeros_like(want),
        }, what="your one-hot matrix", hint="row t is all zeros except a 1 in column ids[t]",
            axes=("row", "column"))
    c.expect(out.sum().item() == len(ids), "every row must sum to exactly 1")


@exercise
def embed(c):
    """Checks embed(ids (T,), W (V, d)) -> (T, d) = one_hot(ids) @ W. Reference: `W[ids]`, i.e. nn.Embedding."""
    c.reference = lambda ids, W: W[ids]
    cases = [(7, 5, [3, 0, 6, 3]), (7, 5, [5]), (7, 5, [1, 2, 3, 4, 5, 6, 0, 1]), (11, 3, [10, 2, 2, 7, 0])]
    for seed, (V, d, ids) in enumerate(cases):
        W, ids = torch.randn(V, d, generator=_gen(1 + seed // 3)), torch.tensor(ids)
        T, width = len(ids), r"(\d+)"
        wide = re.escape("mat1 and mat2 shapes cannot be multiplied (") + f"{T}x{width} and {V}x{d}\\)"
        order = "the order of the product is the wrong way round: the one-hot matrix (T, V) comes first, W second"
        rows = (f"an id is at least d = {d}, and something only d wide was indexed with the ids: either your "
                f"one-hot vectors are d wide (they must be V = W.shape[0] = {V} wide, one column per character), "
                "or the ids picked columns of W (W[:, ids], W.T[ids]) where they pick rows, one row per character")
        entrywise = (f"`*` multiplies entry by entry (it only pairs up equal or broadcast shapes, here {V} against "
                     f"{d}): the one-hot matrix (T, V) and W (V, d) combine by a matrix product, `@`, which sums "
                     "over V for you")
        named = {
            product_error(V, d, T, V): order, product_error(d, V, T, V): order,
            wide + r"|Class values must be smaller than num_classes|ids must lie in 0\.\.\d+, got \d":
                f"your one-hot vectors are not as wide as W's number of rows (V = {V}): build them from W's "
                "shape, not from the ids or a fixed number",
            rf"size of tensor a \(({V}|{d})\) must match the size of tensor b \(({d}|{V})\)": entrywise,
            rf"out of bounds for dimension \d+ with size {d}\b|out of DATA bounds, id=\d+ axis_dim={d}\b": rows,
        }
        out = c.tensor(c.call(ids, W, errors=named), what="your embedding matrix")
        x = text.one_hot(ids, V)
        summed = "you summed the embeddings: keep one row per character"
        mistakes = {
            "you returned W's first rows in order (positions, not ids): row t must be row ids[t] of W": W[:T],
            "off by one: row t must be row ids[t] of W, not row ids[t] + 1": W[(ids + 1) % V],
            "off by one: row t must be row ids[t] of W, not row ids[t] - 1": W[(ids - 1) % V],
            summed: (x @ W).sum(0, keepdim=True).expand(T, d),
            summed + " (yours has one row)": (x @ W).sum(0, keepdim=True),
            summed + " (yours has no row axis)": (x @ W).sum(0),
            "you returned all of W: pick the rows of the given ids, one per character": W,
            "you returned the one-hot matrix itself (T, V): the embedding is that matrix times W": x,
        }
        if out.shape == (T, d) and out.dtype == W.dtype:
            c.name_mistake(out, x @ W, mistakes)
            if not torch.allclose(out, x @ W, atol=1e-5) and (torch.cdist(out, W).min(1).values > 1e-4).all() \
                    and relation(out, x @ W) is None:
                c.expect(False, "none of your rows is a row of W: the embedding of id i is row i of the W you "
                                "were given (a fresh nn.Embedding has weights of its own)")
        c.close(out, x @ W, mistakes, what="your embedding matrix", axes=("row", "column"),
            hint="one_hot(ids, V) has shape (T, V); multiplied by W (V, d) it gives (T, d)")


@exercise
def sequence_logits(c):
    """Checks sequence_logits(features (B,T,d), W (d,C)) -> (B, C): sum the token features, then project.
    Reference: `features.sum(dim=1) @ W` (one output per sequence)."""
    c.reference = lambda features, W: features.sum(dim=1) @ W
    B, T, d, C = 3, 5, 4, 2
    x = torch.randn(B, T, d, generator=_gen(2))
    W = torch.randn(d, C, generator=_gen(3))
    out = c.call(x, W, errors={
        product_error(B, T, d, C): "you reduced over the feature axis (the last one): add up over the tokens of "
                              "each sequence, the length axis (dim=1)",
        product_error(d, C, B, d): "the order of the product is the wrong way round: the summed features (B, d) come "
                              "first, times W (d, C)",
    })
    if isinstance(out, torch.Tensor) and tuple(out.shape) == (B, T, C):
        c.expect(False, "that is one output per token (B, T, C): add the token features up over the "
                        "length axis (dim=1) first, to get one output per sequence")
    if isinstance(out, torch.Tensor) and tuple(out.shape) == (T, C):
        c.expect(False, "you added up over the batch (dim=0): add up over the tokens of each sequence (dim=1)")
    out = c.tensor(out, what="your output")
    c.close(out, x.sum(1) @ W, {
        "you took only the first token's features: add up all of them (dim=1)": x[:, 0] @ W,
        "you took only the last token's features: add up all of them (dim=1)": x[:, -1] @ W,
        "you averaged the tokens: this exercise adds them up (sum, not mean)": x.mean(1) @ W,
        "you left out the first token: add up all of them, from position 0": x[:, 1:].sum(1) @ W,
        "you left out the last token: add up all of them, up to position T - 1": x[:, :-1].sum(1) @ W,
        "you took the maximum over the tokens: this exercise adds them up (sum, not max)": x.amax(1) @ W,
    }, what="your output", axes=("batch", "class"),
        hint="add up over the length axis to get (B, d); then the product with W gives (B, C)")
    for B2, T2, seed in [(4, 7, 5), (1, 9, 4)]:  # other sizes: nothing may be fixed to the first call's
        x2 = torch.randn(B2, T2, d, generator=_gen(seed))
        what = "your output for a batch of one sequence (B = 1)" if B2 == 1 else f"your output (B = {B2}, T = {T2})"
        out = c.tensor(c.call(x2, W), what=what)
        c.close(out, x2.sum(1) @ W, what=what, axes=("batch", "class"))
