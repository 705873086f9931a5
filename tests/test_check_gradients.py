"""The gradient probe: a function that returns the right numbers but stops the gradient is named."""
import pytest
import torch

from course_lib.check import _gradients
from course_lib.check._core import Checker, Fail

X, W = torch.randn(3, 4, generator=torch.Generator().manual_seed(0)), torch.randn(4, 2)


def reference(x, w):
    return torch.tanh(x @ w)


@pytest.mark.parametrize("fn, phrase", [
    (lambda x, w: reference(x, w).detach(), "no gradient flows through your result"),
    (lambda x, w: torch.tanh(x.detach() @ w), "no gradient reaches `x`"),
    (lambda x, w: torch.tanh(x @ w.detach()), "no gradient reaches `w`"),
    (lambda x, w: (torch.tanh(x @ w) + torch.tanh(x.detach() @ w)) / 2,         # half the path cut
     "gradient with respect to `x` is not"),
])
def test_a_cut_gradient_is_named(fn, phrase):
    message = _gradients.probe(fn, reference, (X, W), {}, ["`x`", "`w`"])
    assert message and phrase in message, message


@pytest.mark.parametrize("fn", [
    reference,
    lambda x, w: (torch.exp(2 * (x @ w)) - 1) / (torch.exp(2 * (x @ w)) + 1),   # tanh written out
    lambda x, w: 1 / 0,                                                          # a failing rerun is not judged
])
def test_an_equivalent_answer_passes(fn):
    assert _gradients.probe(fn, reference, (X, W), {}, ["`x`", "`w`"]) is None


def test_defaults_must_match_the_exercise():
    def sample(logits, temperature=1.0, top_k=None):
        pass

    def mine(logits, temperature=0.7, top_k=None):
        pass

    def also_right(logits, temperature=1, top_k=None):
        pass
    with pytest.raises(Fail, match="your default temperature=0.7 is not the exercise's temperature=1.0"):
        Checker(mine).defaults(sample)
    Checker(also_right).defaults(sample)
