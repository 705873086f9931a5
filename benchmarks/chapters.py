"""How long each chapter takes, and how much memory its kernel needs: every master notebook in a fresh kernel.

    .venv/bin/python benchmarks/chapters.py                      # every chapter
    .venv/bin/python benchmarks/chapters.py notebooks/06_*.ipynb # some of them

Seconds on a shared machine say little on their own, so the same run also times a fixed reference workload
(matrix products and a small training loop on one thread, the kind of work the chapters do) before and after
the notebooks, and prints each chapter's time as a multiple of it: that ratio compares across machines and
days. Peak memory is the kernel's own maximum resident size. Targets: at most 60 s on the 2-core
machine the course is tested on, at most 1.5 GB per kernel. The chapters run one after another, never two at
once, with one PyTorch thread (COURSE_THREADS=1), as `make test` runs them.
"""
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("COURSE_THREADS", "1")

import nbformat  # noqa: E402
import torch  # noqa: E402
from nbclient import NotebookClient  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
PEAK = "import resource; print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)"  # KiB on Linux


def reference_seconds(repeat=3):
    """The best of a few runs of a fixed workload: 200 steps of a small MLP on 256 x 512 inputs."""
    torch.set_num_threads(1)
    best = float("inf")
    for _ in range(repeat):
        g = torch.Generator().manual_seed(0)
        x, y = torch.randn(256, 512, generator=g), torch.randint(0, 10, (256,), generator=g)
        torch.manual_seed(0)
        model = torch.nn.Sequential(torch.nn.Linear(512, 512), torch.nn.GELU(), torch.nn.Linear(512, 10))
        opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
        start = time.perf_counter()
        for _ in range(200):
            loss = torch.nn.functional.cross_entropy(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
        best = min(best, time.perf_counter() - start)
    return best


def run(path):
    """-> (seconds, peak MiB) for one notebook, run top to bottom in a fresh kernel in its own folder."""
    nb = nbformat.read(path, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(PEAK))
    start = time.perf_counter()
    NotebookClient(nb, timeout=900, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}).execute()
    seconds = time.perf_counter() - start
    return seconds, int(nb.cells[-1].outputs[0]["text"]) / 1024


def main(paths):
    paths = [Path(p) for p in paths] or sorted((ROOT / "notebooks").glob("[0-9]*.ipynb"))
    before = reference_seconds()
    rows = [(p.stem, *run(p)) for p in paths]
    ref = (before + reference_seconds()) / 2
    print(f"reference workload: {ref:.2f} s (before {before:.2f} s)")
    print(f"{'chapter':<28}{'seconds':>9}{'÷ reference':>13}{'peak MiB':>10}")
    for name, seconds, mib in rows:
        print(f"{name:<28}{seconds:>9.1f}{seconds / ref:>13.1f}{mib:>10.0f}")
    total = sum(r[1] for r in rows)
    print(f"{'all':<28}{total:>9.1f}{total / ref:>13.1f}{max(r[2] for r in rows):>10.0f}")


if __name__ == "__main__":
    main(sys.argv[1:])
