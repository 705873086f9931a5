import math

import torch

from course_lib import tfidf


def test_ngrams():
    assert tfidf.ngrams("很好吃") == ["很", "好", "吃", "很好", "好吃"]
    assert tfidf.ngrams("好", n_max=2) == ["好"] and tfidf.ngrams("") == []


def test_tfidf_rows_have_length_one_and_rare_ngrams_weigh_more():
    transform = tfidf.fit(["好好", "好差", "好"])
    X = transform(["好差", "没见过"]).to_dense()
    assert math.isclose(X[0].norm().item(), 1.0, rel_tol=1e-6)
    assert torch.equal(X[1], torch.zeros_like(X[1]))                  # only unseen n-grams: an empty row
    vocab = sorted({"好", "差", "好好", "好差"})
    assert X[0, vocab.index("差")] > X[0, vocab.index("好")]          # 差 is in one text, 好 in all three


def test_logistic_regression_separates_a_clear_task():
    texts = ["很好", "不错很好", "太好了", "很差", "太差了", "差劲"] * 5
    labels = [1, 1, 1, 0, 0, 0] * 5
    transform = tfidf.fit(texts)
    predict = tfidf.logistic_regression(transform(texts), labels, l2=1e-3)
    assert predict(transform(["好", "差"])).tolist() == [1, 0]
