"""Exercise checks for chapter 07 (GPT): the causal mask, sampling the next token, the bigram baseline."""
import torch
import torch.nn.functional as F

from .. import gpt as ref
from .. import ngram
from ._core import Fail, exercise

__all__ = ["causal_mask", "sample_next", "bigram_log_probs"]


@exercise
def causal_mask(c):
    """Checks causal_mask(T) -> (T, T) bool, True where query t may attend to key s (s <= t).
    Reference: course_lib.gpt.causal_mask."""
    for T in (5, 1, 8):
        out = c.call(T)
        if isinstance(out, torch.Tensor) and out.shape == (T, T) and out.dtype != torch.bool:
            lower = ref.causal_mask(T)
            if out.is_floating_point() and (torch.isinf(out).any() or bool((out <= -1e4).any())):
                raise Fail("you returned an additive float mask (0 where allowed, -inf or a large negative number "
                           "where blocked); the course's masks are bool: True = may attend — hint: "
                           "torch.ones(T, T, dtype=torch.bool).tril()")
            if torch.equal(out != 0, lower):
                raise Fail(f"right pattern, but dtype {out.dtype}: the course's masks are bool "
                           "(True = may attend) — hint: add .bool() or build it with dtype=torch.bool")
        out = c.tensor(out, shape=(T, T), dtype=torch.bool, what=f"causal_mask({T})")
        lower = ref.causal_mask(T)
        c.close(out, lower, mistakes={
            "your mask lets every position see the future (True above the diagonal): the lower triangle "
            "(tril), not the upper (triu), is allowed": lower.T,
            "True should mean 'may attend', but your mask is True exactly where attention must be blocked":
                ~lower,
            "every position must be allowed to attend to itself: the diagonal has to be True "
            "(tril(), not tril(-1))": lower.tril(-1),
            "your mask allows everything: it must hide the positions after t": torch.ones(T, T, dtype=torch.bool),
        } if T > 1 else None, what=f"causal_mask({T})", hint="position t may look at positions 0 … t: that is the lower triangle, diagonal included")


def _frequencies(ids, V, rows):
    return torch.bincount(ids[rows], minlength=V)[:V].double() / len(rows)


@exercise
def sample_next(c):
    """Checks sample_next(logits (B, V), temperature=1.0, top_k=None, generator=None) -> ids (B,) long.
    Samples are random, so the check draws 20,000 per row type and compares the frequencies with the
    reference distribution softmax(top_k(logits) / temperature). Reference: course_lib.gpt.sample_next."""
    a = torch.tensor([2.0, 1.0, 0.5, 0.0, -1.0, -3.0])
    b = torch.tensor([-1.0, 0.6, 3.0, 1.5, 0.9, 1.8])  # k-th largest differs from a's: top-k must be per row
    N, V = 20000, 6
    logits = torch.stack([a, b]).repeat(N, 1)  # rows alternate a, b: top-k must be per row
    rows = {"a": torch.arange(0, 2 * N, 2), "b": torch.arange(1, 2 * N, 2)}
    other = {"a": b, "b": a}

    def dist(row, temperature=1.0, top_k=None, kth_from=None, fill=float("-inf")):
        x = row / temperature
        if top_k is not None:
            kth = (x if kth_from is None else kth_from / temperature).topk(top_k).values[-1]
            x = x.masked_fill(x < kth, fill)
        return F.softmax(x.double(), -1)

    def draw(temperature, top_k, seed=0):
        out = c.call(logits, temperature=temperature, top_k=top_k, generator=torch.Generator().manual_seed(seed))
        if isinstance(out, torch.Tensor) and out.shape == (2 * N, 1):
            raise Fail("your result has shape (B, 1): return one id per row, shape (B,) — hint: .squeeze(-1)")
        out = c.tensor(out, shape=(2 * N,), what=f"sample_next(temperature={temperature}, top_k={top_k})")
        if out.is_floating_point() or out.dtype == torch.bool:
            raise Fail(f"your result has dtype {out.dtype}: return token ids as integers (torch.long)")
        c.expect(bool(((out >= 0) & (out < V)).all()), "some returned ids are not valid token ids (0 .. V-1)")
        return out.long()

    for temperature, top_k in ((1.0, None), (0.5, None), (2.0, None), (1.0, 3), (0.7, 2)):
        out = draw(temperature, top_k)
        for name, row in (("a", a), ("b", b)):
            mistakes = {} if top_k is None else {
                "top-k must be per row: you used the k-th largest logit of one row (e.g. logits[0]) for every "
                "row — keep the batch axis: torch.topk(logits, k, dim=-1).values[:, -1:]":
                    dist(row, temperature, top_k, kth_from=other[name])}
            mistakes |= {
                "you sampled the most likely token every time (argmax): sample from the probabilities with "
                "torch.multinomial": F.one_hot(row.argmax(), V).double(),
                "the distribution ignores top_k: set every logit below the k-th largest to -inf before "
                "the softmax": dist(row, temperature),
                "the distribution ignores the temperature: divide the logits by it before the softmax":
                    dist(row, 1.0, top_k),
                "you multiplied the logits by the temperature; divide them by it (a low temperature must "
                "sharpen the distribution)": dist(row * temperature * temperature, temperature, top_k),
                "every allowed token comes out equally often: sample in proportion to softmax(logits)":
                    dist(torch.zeros(V).masked_fill(dist(row, 1.0, top_k) == 0, float("-inf"))),
            }
            if top_k is None:
                across = torch.sigmoid((row - other[name]).double() / temperature)  # softmax over dim 0, per row
                mistakes["you applied the softmax over the batch axis (dim 0); each row's probabilities must sum "
                         "to 1 over the vocabulary: softmax(..., dim=-1)"] = across / across.sum()
            else:
                mistakes["you set the dropped logits to 0 instead of -inf: exp(0) = 1, so they keep some "
                         "probability — fill them with float('-inf')"] = dist(row, temperature, top_k, fill=0.0)
                smallest = row.topk(top_k, largest=False).values[-1]
                mistakes["you kept the k smallest logits instead of the k largest"] = \
                    dist(row.masked_fill(row > smallest, float("-inf")), temperature)
                mistakes[f"you kept {top_k - 1} tokens instead of top_k={top_k} (off by one)"] = \
                    dist(row, temperature, top_k - 1)
            c.close(_frequencies(out, V, rows[name]), dist(row, temperature, top_k), mistakes=mistakes,
                    atol=0.015, rtol=0, what=f"the frequencies of your samples (temperature={temperature}, "
                    f"top_k={top_k})", hint="divide by the temperature, keep only the k best (the rest can never be drawn), turn into "
                    "probabilities, then draw one id per row with the generator")

    first, again = draw(1.0, None, seed=7), draw(1.0, None, seed=7)
    c.expect(torch.equal(first, again), "two calls with identically seeded generators gave different samples: "
             "pass generator=generator to torch.multinomial so sampling is reproducible")

    big = torch.tensor([[1e4, 0.0, -1e4, 5.0]]).repeat(8, 1)
    try:
        out = c.call(big, temperature=1.0, top_k=None, generator=torch.Generator().manual_seed(0))
    except Fail as e:
        raise Fail(f"with large logits (1e4) {e} — hint: use torch.softmax, which subtracts the row maximum "
                   "so exp() cannot overflow") from None
    out = c.tensor(out, shape=(8,), what="sample_next on large logits")
    c.expect(out.tolist() == [0] * 8, "with logits [1e4, 0, -1e4, 5] the first token has probability ~1, "
             "but your samples include others — hint: use torch.softmax, which is stable for large logits")


@exercise
def bigram_log_probs(c):
    """Checks bigram_log_probs(ids (N,), vocab_size, alpha=1.0) -> (V, V) table of log P(next | previous).
    Reference: course_lib.ngram.bigram_log_probs (add-alpha smoothing, rows sum to 1 after exp)."""
    g = torch.Generator().manual_seed(0)
    cases = [(torch.randint(0, 7, (300,), generator=g), 7, 1.0),
             (torch.tensor([3, 1, 3, 1, 3, 0, 3, 1, 1, 2]), 5, 0.5)]
    for ids, V, alpha in cases:
        out = c.call(ids, V, alpha=alpha)
        out = c.tensor(out, shape=(V, V), what="your table")
        if torch.isneginf(out).any():
            raise Fail("your table has -inf (log 0) for pairs never seen in the text: add alpha to every "
                       "count before normalising (smoothing), or the model gives unseen pairs zero "
                       "probability and the validation loss becomes infinite")
        out = c.tensor(out, what="your table")
        counts = torch.zeros(V, V)
        counts.index_put_((ids[:-1], ids[1:]), torch.ones(len(ids) - 1), accumulate=True)
        once = torch.zeros(V, V)
        once[ids[:-1], ids[1:]] = 1.0
        expected = ngram.bigram_log_probs(ids, V, alpha)
        smooth = counts + alpha

        def log_rows(m):
            return (m / m.sum(1, keepdim=True)).log()

        c.close(out, expected, mistakes={
            "you normalised each column; each ROW (one previous character) must sum to 1 after exp":
                (smooth / smooth.sum(0, keepdim=True)).log(),
            "your table is transposed: row = previous character, column = next character": expected.T,
            "these are probabilities, not log-probabilities: take .log() at the end": expected.exp(),
            "repeated pairs were counted only once: counts[a, b] += 1 with index tensors does not add up "
            "duplicates — use index_put_(..., accumulate=True), torch.bincount or a loop": log_rows(once + alpha),
            "the smoothing is off: add alpha to every count (not 1, and not to the probabilities)":
                log_rows(counts + 1.0),
            "you forgot the smoothing: add alpha to every count before normalising":
                log_rows(counts.clamp_min(1e-30)),
            "you counted each pair the wrong way round (counts[next, prev]): row = previous character "
            "ids[t], column = next character ids[t + 1]": log_rows(counts.T + alpha),
            "you divided by the total of ALL counts, which gives the joint P(previous, next); divide each "
            "row by its own sum to get P(next | previous)": (smooth / smooth.sum()).log(),
            "you used log base 2 or 10; use the natural log (nats), like cross_entropy":
                expected / torch.log(torch.tensor(2.0)),
        }, what=f"your table (vocab_size={V}, alpha={alpha})",
            hint="count every adjacent pair, add alpha to every cell, make each row a distribution, take logs")
