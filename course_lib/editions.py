"""Keep the master notebooks tidy, run them, and build the student edition.

    python -m course_lib.editions sync notebooks            # setup cell + nbgrader metadata, from content
    python -m course_lib.editions execute notebooks/01_*.ipynb   # run and store outputs (make execute)
    python -m course_lib.editions student notebooks student [--force]   # make student

An exercise cell holds a function (or a class) whose answer sits between `### BEGIN SOLUTION` and `### END SOLUTION`
(nbgrader's markers); the cell after it is its check, `check.NAME(NAME)`. `sync` gives both the nbgrader
metadata (schema 3) that `nbgrader generate_assignment` expects, so a teacher can use nbgrader on the masters
as they are. The student edition replaces every answer with `# YOUR CODE HERE` / `raise NotImplementedError()`
and clears all outputs; it never overwrites a notebook the student has changed unless forced.
"""
import argparse
import hashlib
import json
import re
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
MANIFEST = ".edition.json"
_DEF = re.compile(r"^(?:def|class) (\w+)\b", re.M)
_CHECK = re.compile(r"^check\.(\w+)\((\w+)\)\s*;?\s*$")

SETUP_TEMPLATE = '''\
# NBVAL_IGNORE_OUTPUT
# Setup: the same first cell in every chapter (written by `make sync` from course_lib/editions.py).
import importlib, importlib.util, subprocess, sys
COURSE_REPO = "{repo}"
if importlib.util.find_spec("course_lib") is None:
    if "google.colab" in sys.modules:  # Colab: add the course library, keep Colab's own torch/numpy/matplotlib
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", f"git+{{COURSE_REPO}}"], check=True)
        importlib.invalidate_caches()
    else:  # a checkout of the course: the library sits one folder up
        sys.path.insert(0, "..")
import math
import numpy as np
import matplotlib.pyplot as plt
import torch
import torch.nn as nn
import torch.nn.functional as F
import course_lib
from course_lib import check, data, plot, text, train
device = course_lib.setup(seed=0)'''


def course_repo(pyproject=ROOT / "pyproject.toml"):
    """The course repository named in pyproject.toml ([project.urls] Repository): the one documented place."""
    import tomllib  # Python 3.11+; only teachers' tools need it

    return tomllib.loads(Path(pyproject).read_text(encoding="utf-8"))["project"]["urls"]["Repository"]


def setup_cell_source(repo=None):
    return SETUP_TEMPLATE.format(repo=repo or course_repo())


def _nbgrader(solution=False, grade=False, grade_id=None, points=None):
    meta = {"grade": grade, "grade_id": grade_id, "locked": grade, "schema_version": 3,
            "solution": solution, "task": False}
    if points is not None:
        meta["points"] = points
    return meta


def exercises(nb):
    """[(name, solution cell index, check cell index)] of a notebook, in order."""
    found = []
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code" and BEGIN in cell.source:
            names = _DEF.findall(cell.source)
            name = names[0] if names else f"exercise_{i}"
            nxt = nb.cells[i + 1] if i + 1 < len(nb.cells) else None
            match = _CHECK.match(nxt.source.strip()) if nxt is not None and nxt.cell_type == "code" else None
            found.append((name, i, i + 1 if match else None))
    return found


def sync(nb, repo=None):
    """Stamp the setup cell into the first code cell and set nbgrader metadata from the cells' content."""
    code = [c for c in nb.cells if c.cell_type == "code"]
    if not code:
        raise ValueError("a chapter needs at least one code cell (the setup cell)")
    code[0].source = setup_cell_source(repo)
    for cell in nb.cells:
        cell.metadata.pop("nbgrader", None)
    for name, sol, chk in exercises(nb):
        if nb.cells[sol].source.count(BEGIN) != nb.cells[sol].source.count(END):
            raise ValueError(f"exercise {name}: BEGIN/END SOLUTION markers do not pair up")
        nb.cells[sol].metadata["nbgrader"] = _nbgrader(solution=True, grade_id=name)
        if chk is None:
            raise ValueError(f"exercise {name}: the next cell must be its check, `check.{name}({name})`")
        nb.cells[chk].metadata["nbgrader"] = _nbgrader(grade=True, grade_id=f"check_{name}", points=1)
    nb.metadata["kernelspec"] = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
    nb.metadata.setdefault("language_info", {"name": "python"})
    return nb


def strip_solutions(source):
    """Replace each BEGIN/END SOLUTION block with the student's placeholder, at the block's indentation."""
    out, inside = [], False
    for line in source.split("\n"):
        if line.strip() == BEGIN:
            indent = line[: len(line) - len(line.lstrip())]
            out += [f"{indent}# YOUR CODE HERE", f"{indent}raise NotImplementedError()"]
            inside = True
        elif line.strip() == END:
            inside = False
        elif not inside:
            out.append(line)
    if inside:
        raise ValueError("a BEGIN SOLUTION block is never closed")
    return "\n".join(out)


def student_notebook(nb):
    """The student edition of one master notebook (a new object; the master is untouched)."""
    nb = nbformat.from_dict(json.loads(json.dumps(nb)))
    for cell in nb.cells:
        if BEGIN in cell.source:
            cell.source = strip_solutions(cell.source)
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
    return nb


def _digest(text):
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def build_student(src, dst, force=False, log=print):
    """Write the student edition of every notebook in `src` into `dst`.

    A notebook already in `dst` that differs from what was last written there (a student's work) is kept,
    unless force=True. Returns the list of files written.
    """
    src, dst = Path(src), Path(dst)
    dst.mkdir(parents=True, exist_ok=True)
    manifest_path = dst / MANIFEST
    manifest = json.loads(manifest_path.read_text()) if manifest_path.exists() else {}
    written = []
    for path in sorted(src.glob("[0-9]*.ipynb")):
        target = dst / path.name
        text = nbformat.writes(student_notebook(nbformat.read(path, as_version=4))) + "\n"
        if target.exists() and not force:
            current = _digest(target.read_text(encoding="utf-8"))
            if current == _digest(text):
                continue
            if current != manifest.get(path.name):
                log(f"kept {target} (changed since it was handed out; FORCE=1 overwrites it)")
                continue
        target.write_text(text, encoding="utf-8")
        manifest[path.name] = _digest(text)
        written.append(target)
        log(f"wrote {target}")
    manifest_path.write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    return written


def execute(path, timeout=900):
    """Run a notebook top to bottom in a fresh kernel (in its own folder) and store its outputs."""
    from nbclient import NotebookClient

    path = Path(path)
    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, timeout=timeout, kernel_name="python3",
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    nbformat.write(nb, path)
    return nb


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m course_lib.editions", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("sync", help="stamp the setup cell and nbgrader metadata into notebooks")
    p.add_argument("paths", nargs="+")
    p = sub.add_parser("execute", help="sync, then run notebooks and store their outputs")
    p.add_argument("paths", nargs="+")
    p = sub.add_parser("student", help="build the student edition")
    p.add_argument("src")
    p.add_argument("dst")
    p.add_argument("--force", action="store_true", help="overwrite notebooks a student has changed")
    args = parser.parse_args(argv)

    if args.command == "student":
        build_student(args.src, args.dst, force=args.force)
        return 0
    paths = [p for arg in args.paths for p in (sorted(Path(arg).glob("[0-9]*.ipynb")) if Path(arg).is_dir()
                                               else [Path(arg)])]
    for path in paths:
        nb = sync(nbformat.read(path, as_version=4))
        nbformat.write(nb, path)
        if args.command == "execute":
            print(f"executing {path} …", flush=True)
            execute(path)
        else:
            print(f"synced {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
