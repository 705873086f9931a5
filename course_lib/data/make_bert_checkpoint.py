"""Regenerate bert_zh_reviews.pt, the small pre-trained BERT that chapter 06 fine-tunes.

    python course_lib/data/make_bert_checkpoint.py        # ~35-50 min on one CPU thread; deterministic on a CPU

The recipe is chapter 05's, run longer: masked-LM + next-sentence pre-training on the zh_sentiment_train texts
(labels unused) and zh_reviews_unlabeled, a 2-layer BERT of width 128 with 4 heads, batches of 64 sentence pairs,
10,000 steps, AdamW (lr 1e-3, weight decay 0.01) with 200 warm-up steps and a linear decay to 0, gradients clipped
to norm 1. The weights (heads included) are stored in float16 (half the size); loading turns them back into float32.
"""
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from course_lib import bert, data  # noqa: E402
from course_lib.text import CharTokenizer  # noqa: E402

OUT = Path(__file__).with_name("bert_zh_reviews.pt")
STEPS, BATCH, LR, WARMUP = 10_000, 64, 1e-3, 200
SIZES = dict(d_model=128, n_layers=2, n_heads=4, max_len=64, dropout=0.1)


def main(steps=STEPS, out=OUT):
    torch.set_num_threads(1)
    texts, _ = data.load_labeled("zh_sentiment_train")
    corpus = texts + data.load_lines("zh_reviews_unlabeled")
    tok = CharTokenizer.from_texts(corpus)
    torch.manual_seed(0)
    model = bert.BertForPretraining(bert.Bert(len(tok), **SIZES))
    sampler = bert.PairSampler(corpus, tok, max_len=SIZES["max_len"])
    g = torch.Generator().manual_seed(0)
    opt = torch.optim.AdamW(model.parameters(), lr=LR, weight_decay=0.01)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / WARMUP) * max(0.0, 1 - s / steps))
    start, recent = time.time(), []
    model.train()
    for step in range(1, steps + 1):
        total, mlm, nsp = bert.pretraining_loss(model, sampler.batch(BATCH, g))
        opt.zero_grad()
        total.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        schedule.step()
        recent.append((mlm.item(), nsp.item()))
        if step % 250 == 0:
            m = sum(r[0] for r in recent) / len(recent)
            n = sum(r[1] for r in recent) / len(recent)
            print(f"step {step:>6}  masked-LM {m:.3f}  next-sentence {n:.3f}  {time.time() - start:.0f} s", flush=True)
            recent = []
    bert.save_checkpoint(out, model, tok, dtype=torch.float16, steps=steps, batch=BATCH, lr=LR,
                         corpus="zh_sentiment_train + zh_reviews_unlabeled", mlm_loss=round(m, 3), nsp_loss=round(n, 3))
    print("wrote", out)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else STEPS)
