"""Time course_lib's MultiHeadAttention against PyTorch's own attention paths; print the ratios.

    .venv/bin/python benchmarks/attention.py [--reps 30] [--threads 1]

Four ways to compute the same multi-head self-attention, with the same weights:
  course    course_lib.attention.MultiHeadAttention as models call it (need_weights=False: the fused path)
  explicit  the same module with need_weights=True: the step-by-step path the course teaches
  sdpa      the same q/k/v/out Linear layers around F.scaled_dot_product_attention
  nn.MHA    torch.nn.MultiheadAttention with course's weights copied in
Forward is timed in eval mode under torch.no_grad(); forward+backward in train mode (dropout 0).
Repetitions are interleaved (every round runs each path once, in a shuffled order) and the medians are
compared, so a burst of noise hits every path alike. ratio = course / fastest PyTorch path (lower is better);
"explicit" is the same ratio for the step-by-step path.
"""
import argparse
import random
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from course_lib.attention import MultiHeadAttention, merge_heads, split_heads  # noqa: E402

SIZES = [  # (name, batch, seq, d_model, heads, target ratio)
    ("large", 8, 128, 768, 12, 1.1),
    ("small", 32, 64, 128, 4, 1.3),
]


def make_paths(d_model, n_heads):
    """Three modules computing the same function, as callables x -> out."""
    mha = MultiHeadAttention(d_model, n_heads)
    torch_mha = nn.MultiheadAttention(d_model, n_heads, batch_first=True)
    with torch.no_grad():
        torch_mha.in_proj_weight.copy_(torch.cat([mha.q.weight, mha.k.weight, mha.v.weight]))
        torch_mha.in_proj_bias.copy_(torch.cat([mha.q.bias, mha.k.bias, mha.v.bias]))
        torch_mha.out_proj.weight.copy_(mha.out.weight)
        torch_mha.out_proj.bias.copy_(mha.out.bias)

    def course(x):
        return mha(x)[0]

    def explicit(x):
        return mha(x, need_weights=True)[0]

    def sdpa(x):
        q, k, v = (split_heads(proj(x), n_heads) for proj in (mha.q, mha.k, mha.v))
        return mha.out(merge_heads(F.scaled_dot_product_attention(q, k, v)))

    def torch_path(x):
        return torch_mha(x, x, x, need_weights=False)[0]

    return {"course": course, "explicit": explicit, "sdpa": sdpa, "nn.MHA": torch_path}, (mha, torch_mha)


def time_once(fn, x, backward):
    start = time.perf_counter()
    if backward:
        fn(x).sum().backward()
    else:
        with torch.no_grad():
            fn(x)
    return time.perf_counter() - start


def bench(batch, seq, d_model, n_heads, backward, reps):
    torch.manual_seed(0)
    paths, modules = make_paths(d_model, n_heads)
    for m in modules:
        m.train(backward)
    x = torch.randn(batch, seq, d_model, requires_grad=backward)
    outs = [fn(x) for fn in paths.values()]  # sanity: all three agree
    for o in outs[1:]:
        assert torch.allclose(outs[0], o, atol=1e-4), (outs[0] - o).abs().max()
    times = {name: [] for name in paths}
    names = list(paths)
    for _ in range(3):  # warm-up
        for name in names:
            time_once(paths[name], x, backward)
    rng = random.Random(0)
    for _ in range(reps):
        rng.shuffle(names)
        for name in names:
            times[name].append(time_once(paths[name], x, backward))
    return {name: statistics.median(t) for name, t in times.items()}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reps", type=int, default=30)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s), medians of {args.reps} interleaved reps")
    cols = ("course", "explicit", "sdpa", "nn.MHA")
    print(f"{'size':<34} {'mode':<8}" + "".join(f"{c:>10}" for c in cols) + "   ratio  target  explicit")
    ok = True
    for name, B, T, d, h, target in SIZES:
        for backward in (False, True):
            med = bench(B, T, d, h, backward, args.reps)
            fastest = min(med["sdpa"], med["nn.MHA"])
            ratio = med["course"] / fastest
            ok &= ratio <= target
            label = f"{name} (B={B}, T={T}, d={d}, h={h})"
            mode = "fwd+bwd" if backward else "fwd"
            cells = "".join(f"{med[c] * 1e3:8.2f}ms" for c in cols)
            verdict = "<=" if ratio <= target else "> "
            print(f"{label:<34} {mode:<8}{cells}   {ratio:5.2f}  {verdict}{target}  {med['explicit'] / fastest:6.2f}")
    print("all within target" if ok else "some ratios above target")


if __name__ == "__main__":
    main()
