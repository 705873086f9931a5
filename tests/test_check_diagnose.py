"""The general probes of course_lib.check._diagnose: each relation and place is named, nothing is named for a
difference that has none of them, and the common PyTorch errors are explained."""
import math

import pytest
import torch

from course_lib.check._diagnose import explain_error, location, relation

g = torch.Generator().manual_seed(0)
E = torch.randn(2, 4, 6, generator=g)                    # a reference: (batch, row, column)
W = torch.softmax(torch.randn(2, 5, 5, generator=g), -1)  # reference attention weights, rows sum to 1


@pytest.mark.parametrize("out, expected, phrase", [
    (-E, E, "opposite sign"),
    (E / math.sqrt(8), E, "times 1/√8 (1/√d_k)"),
    (E * 8, E, "times 8 (d_k)"),
    (E * 0.37, E, "times 0.37"),
    (E + 0.5, E, "plus 0.5 everywhere"),
    (E + E.amax(-1, keepdim=True), E, "every row is off by its own constant"),
    (E + E.mean(-2, keepdim=True), E, "every column is off by its own constant"),
    (W / W.sum(-2, keepdim=True), W, "sums to 1 along the row axis"),
    (torch.log(W) + 3.0, W, "scores before the softmax"),
    (W * torch.arange(1.0, 6.0).view(1, 5, 1), W, "division by the row's sum is missing"),
    (torch.softmax(W, -1), W, "a softmax too many"),
    (W.transpose(-2, -1), W, "transposed"),
    (E[:, [1, 0, 3, 2]], E, "in another order"),
    (E.reshape(2, 6, 4).transpose(1, 2).contiguous(), E, "the reference's numbers, in other places"),
    (torch.cat([E[:, :1], E[:, :-1]], 1), E, "shifted by one along the row axis"),
    (torch.zeros_like(E), E, "all zeros"),
    (E * torch.arange(2.0, 6.0).view(1, 4, 1), E, "every row is off by its own factor"),
    (W.argmax(-1, keepdim=True).float().expand_as(W), W, "indices?"),
])
def test_relations_are_named(out, expected, phrase):
    said = relation(out, expected, sizes={"d_k": 8})
    assert said and phrase in said, said


def test_no_relation_for_noise():
    assert relation(E + 0.1 * torch.randn(E.shape, generator=g), E) is None


def test_places_are_named():
    out = E.clone()
    out[1] += 1.0
    assert "only in the last batch element" in location(out, E, axes=("batch", "row", "column"))
    out = E.clone()
    out[:, -1, :] *= 2
    assert "the last step" in location(out, E, axes=("batch", "step", "feature"))
    pad = torch.zeros(2, 4, 1, dtype=torch.bool)
    pad[:, 2:] = True
    out = torch.where(pad, E + 1, E)
    assert "only at the padded positions" in location(out, E, padded=pad)
    out = torch.where(pad, E, E + 1)
    assert "padding mask is used the other way round" in location(out, E, padded=pad)
    out = W + torch.eye(5) * 0.3
    assert "only on the diagonal" in location(out, W)
    out = W + torch.ones(5, 5).triu(1) * 0.3
    assert "above the diagonal" in location(out, W)


def test_ints_and_everywhere():
    ids = torch.tensor([[0, 0, 1, 1], [0, 1, 1, 1]])
    other = ids.clone()
    other[1, 1] = 0
    assert "the last batch element" in location(other, ids, axes=("batch", "position"))
    assert location(E + 1, E) is None  # wrong everywhere: nothing to localise


@pytest.mark.parametrize("make, phrase", [
    (lambda: torch.randn(5, 8) @ torch.randn(7, 8), "one of the two is transposed"),
    (lambda: torch.randn(2, 3) / torch.randn(2, 3).sum(-1), "keepdim=True"),
    (lambda: torch.randn(2, 3).sum(dim=2), "count axes from the end"),
    (lambda: torch.randn(2, 3, 4).transpose(1, 2).view(2, 12), ".contiguous()"),
    (lambda: torch.randn(6).view(4, 2), "do not multiply"),
    (lambda: torch.randn(2, 3).double() @ torch.randn(3, 2), "different dtypes"),
    (lambda: torch.nn.Embedding(3, 2)(torch.tensor([5])), "at least the size"),
    (lambda: bool(torch.tensor([1, 0])), "several values"),
    (lambda: torch.randn(3).masked_fill(torch.tensor([1, 0, 1]), 0.0), "bool mask"),
    (lambda: torch.cat([torch.randn(2, 3), torch.randn(3, 2)], 0), "cat or torch.stack"),
    (lambda: torch.randn(3).sum() @ torch.randn(3), "a single number (a 0-d tensor"),
    (lambda: undefined_name + 1, "unknown where your code runs"),  # noqa: F821
])
def test_errors_are_explained(make, phrase):
    with pytest.raises(Exception) as info:
        make()
    assert phrase in explain_error(info.value), (str(info.value), explain_error(info.value))
