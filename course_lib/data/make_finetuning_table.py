"""Regenerate finetuning_table.json: chapter 06's comparison over several label subsets, precomputed.

    python course_lib/data/make_finetuning_table.py        # ~15 min on one CPU thread

Chapter 06 can afford one run per arm in its minute; a conclusion needs several. This script runs every arm
on five random subsets of 200 training labels (100 per class; subset s is `data.balanced_rows(labels, 200, s)`),
with the recipe the chapter uses (`bert.fine_tune`: 150 steps of 32 reviews, reviews cut to 48 tokens), and
gives each arm its own learning rate, chosen by mean validation accuracy over the five subsets:

    fine-tuned      the shipped checkpoint, every weight trained; encoder lr in {3e-5, 1e-4, 3e-4}, head 1e-3;
                    pooled by mean (法二), and with [CLS] (法一) and max (法三) at the learning rate mean chose
    from scratch    the same architecture from random weights; one lr for all weights in {3e-5, 1e-4, 3e-4, 1e-3, 3e-3}
    frozen          feature extraction: the checkpoint fixed, only the head trained; head lr in {3e-4, 1e-3, 3e-3, 1e-2}
    TF-IDF          course_lib.tfidf: character 1-2-grams + logistic regression, l2 in {1e-2, 1e-3, 1e-4, 1e-5};
                    on the same subsets, and once on all 6,800 training labels

Validation uses every other review of zh_sentiment_val (500); test accuracy is on all 1,000 of zh_sentiment_test,
with the weights at the end of training. The chapter reruns subset 0 of some arms and checks that it lands
inside the spread stored here.
"""
import json
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from course_lib import bert, data, tfidf  # noqa: E402

OUT = Path(__file__).with_name("finetuning_table.json")
SUBSETS, N_LABELS, MAX_LEN, STEPS = range(5), 200, 48, 150
ARMS = {  # name -> (pool, freeze, from_scratch, learning rates to try as (encoder lr, head lr))
    "fine-tuned, mean": ("mean", False, False, [(3e-5, 1e-3), (1e-4, 1e-3), (3e-4, 1e-3)]),
    "from scratch, mean": ("mean", False, True, [(3e-5, 3e-5), (1e-4, 1e-4), (3e-4, 3e-4), (1e-3, 1e-3), (3e-3, 3e-3)]),
    "frozen, mean": ("mean", True, False, [(0.0, 3e-4), (0.0, 1e-3), (0.0, 3e-3), (0.0, 1e-2)]),
}
SAME_LR_AS_MEAN = {"fine-tuned, cls": "cls", "fine-tuned, max": "max"}
L2 = [1e-2, 1e-3, 1e-4, 1e-5]


def scratch_like(encoder, seed=1):
    torch.manual_seed(seed)
    return bert.Bert(encoder.embeddings.token.num_embeddings,
                     **{k: encoder.config[k] for k in ("d_model", "n_layers", "n_heads", "max_len")})


def tfidf_run(texts, labels, l2, val, test):
    transform = tfidf.fit(texts)
    predict = tfidf.logistic_regression(transform(texts), labels, l2)
    return {name: (predict(transform(t)) == torch.tensor(y)).float().mean().item()
            for name, (t, y) in (("val", val), ("test", test))}


def main(out=OUT):
    torch.set_num_threads(1)
    pretrained, tok, _ = bert.load_checkpoint(bert.CHECKPOINT)
    scratch = scratch_like(pretrained)
    texts, labels = data.load_labeled("zh_sentiment_train")
    val_texts, val_labels = data.load_labeled("zh_sentiment_val")
    test_texts, test_labels = data.load_labeled("zh_sentiment_test")
    val = (*bert.encode(tok, val_texts[::2], max_len=MAX_LEN), torch.tensor(val_labels[::2]))
    test = (*bert.encode(tok, test_texts, max_len=MAX_LEN), torch.tensor(test_labels))
    subsets = {}
    for s in SUBSETS:
        rows = data.balanced_rows(labels, N_LABELS, s)
        subsets[s] = (*bert.encode(tok, [texts[i] for i in rows], max_len=MAX_LEN), torch.tensor([labels[i] for i in rows]))

    def run(pool, freeze, from_scratch, lr, head_lr, s):
        model, _ = bert.fine_tune(scratch if from_scratch else pretrained, *subsets[s], pool=pool, lr=lr,
                                  head_lr=head_lr, freeze=freeze, steps=STEPS, seed=s, progress=False)
        return {"val": bert.accuracy(model, *val), "test": bert.accuracy(model, *test)}

    start, table = time.time(), {}
    for name, (pool, freeze, from_scratch, rates) in ARMS.items():
        tried = {}
        for lr, head_lr in rates:
            tried[lr, head_lr] = [run(pool, freeze, from_scratch, lr, head_lr, s) for s in SUBSETS]
            mean_val = sum(r["val"] for r in tried[lr, head_lr]) / len(SUBSETS)
            print(f"{name:<20} lr {lr:g} / head {head_lr:g}: mean val {mean_val:.3f}  {time.time() - start:.0f} s",
                  flush=True)
        best = max(tried, key=lambda k: sum(r["val"] for r in tried[k]))
        table[name] = {"pool": pool, "freeze": freeze, "from_scratch": from_scratch, "lr": best[0],
                       "head_lr": best[1], "runs": tried[best],
                       "sweep": {f"{lr:g}/{h:g}": sum(r["val"] for r in rs) / len(SUBSETS) for (lr, h), rs in tried.items()}}
    lr, head_lr = table["fine-tuned, mean"]["lr"], table["fine-tuned, mean"]["head_lr"]
    for name, pool in SAME_LR_AS_MEAN.items():
        table[name] = {"pool": pool, "freeze": False, "from_scratch": False, "lr": lr, "head_lr": head_lr,
                       "runs": [run(pool, False, False, lr, head_lr, s) for s in SUBSETS]}
        print(f"{name:<20} done  {time.time() - start:.0f} s", flush=True)
    for name, choose in (("TF-IDF", lambda: [data.balanced_rows(labels, N_LABELS, s) for s in SUBSETS]),
                         ("TF-IDF, all labels", lambda: [list(range(len(labels)))])):
        tried = {l2: [tfidf_run([texts[i] for i in rows], [labels[i] for i in rows], l2,
                                (val_texts[::2], val_labels[::2]), (test_texts, test_labels)) for rows in choose()]
                 for l2 in L2}
        best = max(tried, key=lambda l2: sum(r["val"] for r in tried[l2]))
        table[name] = {"l2": best, "runs": tried[best], "sweep": {f"{l2:g}": sum(r["val"] for r in rs) / len(rs)
                                                                 for l2, rs in tried.items()}}
        print(f"{name:<20} l2 {best:g}  {time.time() - start:.0f} s", flush=True)
    recipe = {"labels": N_LABELS, "subsets": len(SUBSETS), "max_len": MAX_LEN, "steps": STEPS, "batch": 32,
              "validation": "zh_sentiment_val[::2]", "test": "zh_sentiment_test"}
    out.write_text(json.dumps({"recipe": recipe, "arms": table}, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print("wrote", out)


if __name__ == "__main__":
    main()
