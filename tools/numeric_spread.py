"""Run a chapter on several numeric paths of this CPU and show which printed outputs change.

    .venv/bin/python tools/numeric_spread.py notebooks/07_gpt.ipynb            # all paths below
    .venv/bin/python tools/numeric_spread.py notebooks/07_gpt.ipynb native both
    .venv/bin/python tools/numeric_spread.py --foreign      # the path `make test` checks on (see the Makefile)

Another CPU rounds floats differently (other vector units, other library kernels). This machine can imitate
that: ATEN_CPU_CAPABILITY picks PyTorch's kernels (default = no vector units), MKL_CBWR picks MKL's code path
(COMPATIBLE = the same on every x86 CPU). `make test` checks the stored outputs on one such path; this tool is
for writing a chapter: it prints, cell by cell, every text output that differs between paths — in ignored cells
too, since the prose must only quote what every path shows. Two paths run at a time, one thread each.
"""
import difflib
import os
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nbformat
from nbclient import NotebookClient

PATHS = {
    "native": {},
    "default": {"ATEN_CPU_CAPABILITY": "default"},
    "compatible": {"MKL_CBWR": "COMPATIBLE"},
    "both": {"ATEN_CPU_CAPABILITY": "default", "MKL_CBWR": "COMPATIBLE"},
}
NUMERIC_VARIABLES = ("ATEN_CPU_CAPABILITY", "MKL_CBWR")


LOWER = {"AVX512": "avx2", "AVX512_VNNI": "avx2", "AVX512_BF16": "avx2", "AMX": "avx2"}


def foreign():
    """The path `make test` checks the notebooks on: PyTorch's CPU kernels one level below this CPU's own
    (AVX-512 -> AVX2, anything else -> no vector units), as an environment assignment."""
    import torch

    native = torch.backends.cpu.get_cpu_capability()
    if native == "DEFAULT":
        print("numeric_spread: PyTorch uses no vector kernels on this CPU, so `make test` cannot check the "
              "notebooks on another path here (try MKL_CBWR=COMPATIBLE on an x86 CPU)", file=sys.stderr)
    return f"ATEN_CPU_CAPABILITY={LOWER.get(native, 'default')}"


def texts(path, env):
    """Run the notebook with `env` added to the kernel's environment -> one text per code cell."""
    nb = nbformat.read(path, as_version=4)
    kernel_env = {k: v for k, v in os.environ.items() if k not in NUMERIC_VARIABLES}
    kernel_env.update(COURSE_THREADS="1", PYTHONHASHSEED="0", **env)
    client = NotebookClient(nb, timeout=900, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}})
    client.execute(env=kernel_env)
    out = []
    for cell in (c for c in nb.cells if c.cell_type == "code"):
        parts = []
        for o in cell.outputs:
            if o.output_type == "stream":
                parts.append(o.text)
            elif o.output_type in ("display_data", "execute_result"):
                parts += [v for k, v in o.data.items() if k.startswith("text/")]
        out.append(("ignored " if "NBVAL_IGNORE_OUTPUT" in cell.source else "") + "".join(parts))
    return out


def main(path, names):
    path = Path(path)
    names = names or list(PATHS)
    with ThreadPoolExecutor(2) as pool:
        results = dict(zip(names, pool.map(lambda n: texts(path, PATHS[n]), names)))
    base = names[0]
    changed = 0
    for i, reference in enumerate(results[base]):
        others = {n: r[i] for n, r in results.items() if n != base and r[i] != reference}
        if not others:
            continue
        changed += 1
        print(f"=== code cell {i}{' (ignored)' if reference.startswith('ignored ') else ''}")
        for name, text in others.items():
            diff = difflib.unified_diff(reference.splitlines(), text.splitlines(), base, name, lineterm="", n=0)
            print("\n".join(line for line in diff if not line.startswith("@@")))
    print(f"{changed} code cells print differently across {', '.join(names)}")


if __name__ == "__main__":
    if sys.argv[1:] == ["--foreign"]:
        print(foreign())
    else:
        main(sys.argv[1], sys.argv[2:])
