"""The strong simple baseline for text classification: TF-IDF of character n-grams + logistic regression.

    transform = fit(train_texts)                  # the n-gram vocabulary and IDF weights of the training texts
    X = transform(texts)                          # (N, V) sparse: TF-IDF, each row of length 1
    predict = logistic_regression(X, labels, l2)  # -> a function: sparse (M, V) -> (M,) long labels 0/1

A text becomes the counts of its characters and pairs of neighbouring characters (1- and 2-grams), each
weighted by idf = ln((1 + N) / (1 + df)) + 1 (rare n-grams count more; sklearn's smooth IDF), the row scaled to
length 1. No order beyond two characters, no pre-training: the model every BERT number should be compared with.
"""
import torch
import torch.nn.functional as F


def ngrams(text, n_max=2):
    """'很好吃' -> ['很', '好', '吃', '很好', '好吃'] for n_max = 2."""
    return [text[i:i + n] for n in range(1, n_max + 1) for i in range(len(text) - n + 1)]


def fit(texts, n_max=2):
    """Learn the n-gram vocabulary and IDF weights of `texts` -> transform(texts) -> sparse (N, V) float."""
    vocab = {g: i for i, g in enumerate(sorted({g for t in texts for g in ngrams(t, n_max)}))}
    df = torch.zeros(len(vocab))
    for t in texts:
        df[[vocab[g] for g in set(ngrams(t, n_max))]] += 1
    idf = torch.log((1 + len(texts)) / (1 + df)) + 1

    def transform(texts):
        rows, cols = [], []
        for r, t in enumerate(texts):
            known = [vocab[g] for g in ngrams(t, n_max) if g in vocab]  # unseen n-grams are dropped
            rows += [r] * len(known)
            cols += known
        index = torch.tensor([rows, cols], dtype=torch.long).reshape(2, -1)
        counts = torch.sparse_coo_tensor(index, torch.ones(len(rows)), (len(texts), len(vocab)),
                                         check_invariants=False).coalesce()
        i, v = counts.indices(), counts.values() * idf[counts.indices()[1]]
        length = torch.zeros(len(texts)).index_add_(0, i[0], v ** 2).sqrt().clamp(min=1e-12)
        return torch.sparse_coo_tensor(i, v / length[i[0]], counts.shape, check_invariants=False).coalesce()

    return transform


def logistic_regression(X, y, l2=1e-4, max_iter=200):
    """Fit w, b minimising mean binary cross-entropy + l2 * ||w||² (L-BFGS) on sparse X (N, V), labels y (N,) 0/1.

    Returns predict(X') -> (M,) long.
    """
    w = torch.zeros(X.shape[1], 1, requires_grad=True)
    b = torch.zeros(1, requires_grad=True)
    target = torch.as_tensor(y, dtype=torch.float)
    optimizer = torch.optim.LBFGS([w, b], max_iter=max_iter, line_search_fn="strong_wolfe")

    def closure():
        optimizer.zero_grad()
        logits = torch.sparse.mm(X, w)[:, 0] + b
        loss = F.binary_cross_entropy_with_logits(logits, target) + l2 * w.pow(2).sum()
        loss.backward()
        return loss

    optimizer.step(closure)
    w, b = w.detach(), b.detach()
    return lambda X: ((torch.sparse.mm(X, w)[:, 0] + b) > 0).long()
