import math

import pytest
import torch

from course_lib import ngram


def _all_next(train, context, V, order, discount):
    """P(c | context) for every c, through kneser_ney on the sequences context + [c]."""
    return torch.stack([ngram.kneser_ney(train, torch.tensor(context + [c]), V, order, discount)[-1].exp()
                        for c in range(V)])


@pytest.mark.parametrize("order", [2, 3])
def test_kneser_ney_is_a_distribution_for_seen_and_unseen_contexts(order):
    g = torch.Generator().manual_seed(0)
    V = 7
    train = torch.randint(0, 5, (300,), generator=g)          # tokens 5 and 6 never occur
    for context in ([1, 2], [6, 6], [2, 6]):
        p = _all_next(train, context[-(order - 1):], V, order, 0.75)
        assert math.isclose(p.sum().item(), 1.0, rel_tol=1e-5), (context, p)
        assert (p > 0).all()


def test_kneser_ney_prefers_what_followed_in_training():
    train = torch.tensor([0, 1, 0, 1, 0, 1, 0, 2, 3, 4] * 20)
    p = _all_next(train, [0], 5, 2, 0.75)
    assert p.argmax() == 1 and p[1] > 0.6


def test_kneser_ney_rejects_other_orders():
    with pytest.raises(ValueError, match="order"):
        ngram.kneser_ney(torch.tensor([0, 1]), torch.tensor([0, 1]), 2, order=4)


def test_bigram_and_unigram_tables_normalise():
    ids = torch.tensor([0, 1, 1, 2, 0, 1])
    assert torch.allclose(ngram.bigram_log_probs(ids, 3, alpha=0.5).exp().sum(1), torch.ones(3))
    assert math.isclose(ngram.unigram_log_probs(ids, 4).exp().sum().item(), 1.0, rel_tol=1e-6)


def test_bigram_log_probs():
    ids = torch.tensor([0, 1, 0, 1, 2])
    lp = ngram.bigram_log_probs(ids, 3, alpha=1.0)
    torch.testing.assert_close(lp.exp().sum(1), torch.ones(3))
    expected_row0 = torch.tensor([1.0, 3.0, 1.0]) / 5  # 0->1 twice, plus one smoothing count each
    torch.testing.assert_close(lp[0].exp(), expected_row0)
    torch.testing.assert_close(lp[2].exp(), torch.full((3,), 1 / 3))
