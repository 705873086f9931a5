"""Benchmark: course_lib.gpt.GPT at nanoGPT's CPU recipe for character-level Tiny Shakespeare.

Recipe (nanoGPT config/train_shakespeare_char.py with the CPU overrides from its README):
  --device=cpu --compile=False --eval_iters=20 --log_interval=1 --block_size=64 --batch_size=12
  --n_layer=4 --n_head=4 --n_embd=128 --max_iters=2000 --lr_decay_iters=2000 --dropout=0.0
and train.py's defaults: bias=False, AdamW(lr 1e-3, betas (0.9, 0.99), weight decay 0.1 on matrices only),
100 warm-up iterations then cosine decay to 1e-4, gradient clipping at 1.0, float32 on CPU.
Data: the shipped en_shakespeare_train/val files (nanoGPT's 90/10 split), 65-character vocabulary.

Printed: training iterations per second (evaluation excluded) and the training time / iteration at which the
validation loss, estimated on 200 batches every 100 iterations, first falls below 2.0 and 1.9.
The reference is a re-typed copy of nanoGPT's own model (fused c_attn, F.scaled_dot_product_attention),
trained in the same process on the same batches, so the ratios compare like with like.
For orientation, nanoGPT itself measured on this machine: 25-36 it/s, val < 2.0 at ~1,300 iterations,
< 1.9 at ~1,900.

Run:  .venv/bin/python benchmarks/gpt.py [--threads 1 2] [--iters 2000] [--no-reference]
"""
import argparse
import math
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

from course_lib.data import load_text
from course_lib.gpt import GPT

BLOCK, BATCH, LAYERS, HEADS, WIDTH = 64, 12, 4, 4, 128
LR, MIN_LR, WARMUP, WEIGHT_DECAY, BETAS, CLIP = 1e-3, 1e-4, 100, 0.1, (0.9, 0.99), 1.0
EVAL_EVERY, EVAL_BATCHES, TARGETS = 100, 200, (2.0, 1.9)


class NanoBlock(nn.Module):
    """nanoGPT's Block (model.py, bias=False, dropout=0): one fused c_attn projection for q, k, v."""

    def __init__(self, d, h):
        super().__init__()
        self.h = h
        self.ln_1, self.ln_2 = nn.LayerNorm(d, bias=False), nn.LayerNorm(d, bias=False)
        self.c_attn, self.c_proj = nn.Linear(d, 3 * d, bias=False), nn.Linear(d, d, bias=False)
        self.c_fc, self.mlp_proj = nn.Linear(d, 4 * d, bias=False), nn.Linear(4 * d, d, bias=False)

    def forward(self, x):
        B, T, C = x.shape
        q, k, v = self.c_attn(self.ln_1(x)).split(C, dim=2)
        q, k, v = (t.view(B, T, self.h, C // self.h).transpose(1, 2) for t in (q, k, v))
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True).transpose(1, 2).contiguous().view(B, T, C)
        x = x + self.c_proj(y)
        return x + self.mlp_proj(F.gelu(self.c_fc(self.ln_2(x))))


class NanoGPT(nn.Module):
    """nanoGPT's GPT (model.py) at the sizes above, with its initialisation and tied embeddings."""

    def __init__(self, vocab, block, d, layers, h):
        super().__init__()
        self.wte, self.wpe = nn.Embedding(vocab, d), nn.Embedding(block, d)
        self.h = nn.ModuleList(NanoBlock(d, h) for _ in range(layers))
        self.ln_f = nn.LayerNorm(d, bias=False)
        self.lm_head = nn.Linear(d, vocab, bias=False)
        self.wte.weight = self.lm_head.weight
        for name, p in self.named_parameters():
            if p.dim() == 2:
                std = 0.02 / math.sqrt(2 * layers) if name.endswith(("c_proj.weight", "mlp_proj.weight")) else 0.02
                nn.init.normal_(p, 0.0, std)

    def loss(self, ids, targets):
        x = self.wte(ids) + self.wpe(torch.arange(ids.size(1)))
        for block in self.h:
            x = block(x)
        return F.cross_entropy(self.lm_head(self.ln_f(x)).flatten(0, 1), targets.flatten())


def lr_at(it, max_iters):
    """nanoGPT's get_lr: linear warm-up, then cosine decay to MIN_LR at lr_decay_iters = max_iters."""
    if it < WARMUP:
        return LR * (it + 1) / (WARMUP + 1)
    ratio = (it - WARMUP) / (max_iters - WARMUP)
    return MIN_LR + 0.5 * (1.0 + math.cos(math.pi * ratio)) * (LR - MIN_LR)


def batches(data, n, seed):
    g = torch.Generator().manual_seed(seed)
    for _ in range(n):
        ix = torch.randint(len(data) - BLOCK, (BATCH,), generator=g)
        yield (torch.stack([data[i:i + BLOCK] for i in ix]), torch.stack([data[i + 1:i + 1 + BLOCK] for i in ix]))


def run(make_model, train, val, iters, seed=1337):
    torch.manual_seed(seed)
    model = make_model()
    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": WEIGHT_DECAY},
                             {"params": no_decay, "weight_decay": 0.0}], lr=LR, betas=BETAS)
    fixed_val = list(batches(val, EVAL_BATCHES, seed=0))  # the same 200 validation batches at every eval
    train_seconds, reached, curve = 0.0, {}, []
    for it, (x, y) in enumerate(batches(train, iters, seed=seed)):
        start = time.perf_counter()
        for group in opt.param_groups:
            group["lr"] = lr_at(it, iters)
        loss = model.loss(x, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), CLIP)
        opt.step()
        train_seconds += time.perf_counter() - start
        if (it + 1) % EVAL_EVERY == 0:
            model.eval()
            with torch.no_grad():
                v = sum(model.loss(a, b).item() for a, b in fixed_val) / EVAL_BATCHES
            model.train()
            curve.append((it + 1, v))
            for target in TARGETS:
                if v < target and target not in reached:
                    reached[target] = (it + 1, train_seconds)
    return {"it_per_s": iters / train_seconds, "seconds": train_seconds, "reached": reached, "curve": curve}


def describe(name, r):
    hits = ", ".join(f"val<{t}: iter {r['reached'][t][0]} ({r['reached'][t][1]:.1f} s)" if t in r["reached"]
                     else f"val<{t}: not reached" for t in TARGETS)
    best = min(v for _, v in r["curve"])
    print(f"  {name:10s} {r['it_per_s']:6.1f} it/s  train {r['seconds']:6.1f} s  best val {best:.3f}  {hits}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--iters", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=1337, help="seeds the initialisation and the batches")
    parser.add_argument("--gelu", default="none", choices=["none", "tanh"],
                        help="course GPT's GELU: exact like nanoGPT (default) or GPT-2's tanh approximation")
    parser.add_argument("--no-reference", action="store_true", help="skip the nanoGPT reference run")
    args = parser.parse_args()

    train_text, val_text = load_text("en_shakespeare_train"), load_text("en_shakespeare_val")
    chars = sorted(set(train_text + val_text))
    stoi = {c: i for i, c in enumerate(chars)}
    train = torch.tensor([stoi[c] for c in train_text])
    val = torch.tensor([stoi[c] for c in val_text])
    vocab = len(chars)
    print(f"Tiny Shakespeare: {len(train):,} train / {len(val):,} val characters, vocabulary {vocab}; "
          f"torch {torch.__version__}")

    # default gelu="none": nanoGPT's MLP uses the exact nn.GELU() (GPT-2's tanh approximation is slower on CPU)
    ours = lambda: GPT(vocab, BLOCK, d_model=WIDTH, n_layers=LAYERS, n_heads=HEADS, dropout=0.0, bias=False,
                       gelu=args.gelu)
    ref = lambda: NanoGPT(vocab, BLOCK, WIDTH, LAYERS, HEADS)
    for threads in args.threads:
        torch.set_num_threads(threads)
        print(f"threads = {threads}, {args.iters} iterations, batch {BATCH} x {BLOCK}, course GELU {args.gelu}")
        mine = run(ours, train, val, args.iters, args.seed)
        describe("course GPT", mine)
        if args.no_reference:
            continue
        theirs = run(ref, train, val, args.iters, args.seed)
        describe("nanoGPT", theirs)
        print(f"  speed ratio (course / nanoGPT it/s): {mine['it_per_s'] / theirs['it_per_s']:.2f}")
        for t in TARGETS:
            if t in mine["reached"] and t in theirs["reached"]:
                print(f"  iterations to val<{t}, course / nanoGPT: "
                      f"{mine['reached'][t][0]} / {theirs['reached'][t][0]}")
        print("  val curve (iter: course, nanoGPT): " + ", ".join(
            f"{a}: {v:.3f}, {w:.3f}" for (a, v), (_, w) in zip(mine["curve"], theirs["curve"])
            if a % 500 == 0 or a >= 1000))


if __name__ == "__main__":
    main()
