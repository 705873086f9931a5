"""The Chinese edition (中文版): the masters' prose in Chinese, their code cells and outputs unchanged.

translations/zh/NN_name.json translates the markdown cells of notebooks/NN_name.ipynb, one entry per cell:

    {"id": the cell's id, "en": the first 16 hex digits of the sha256 of the English source, "zh": the Chinese}

so every translation records which English text it translates: when a master's prose changes, its entry goes
stale, and `problems()` (and `make test`) says so. The Chinese notebooks are generated, never edited by hand:

    python -m course_lib.translations check               # missing, stale or orphaned entries
    python -m course_lib.translations worklist DIR        # the cells to (re)translate, with their English
    python -m course_lib.translations build zh            # the Chinese masters, with the masters' outputs
    make zh                                               # zh/ and its student edition, student-zh/
"""
import argparse
import hashlib
import json
from pathlib import Path

import nbformat

from . import editions

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
TRANSLATIONS = ROOT / "translations" / "zh"


def digest(text):
    """The fingerprint of one English cell: 16 hex digits of its sha256."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def masters():
    return sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))


def load(stem, folder=TRANSLATIONS):
    """{cell id: entry} of one chapter's translation ({} when there is none yet)."""
    path = Path(folder) / f"{stem}.json"
    if not path.exists():
        return {}
    return {e["id"]: e for e in json.loads(path.read_text(encoding="utf-8"))}


def problems(master, folder=TRANSLATIONS):
    """What keeps `master` (a path) from a complete, current translation: a list of messages, [] when none."""
    nb = nbformat.read(master, as_version=4)
    entries = load(master.stem, folder)
    out = []
    ids = set()
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "markdown":
            continue
        ids.add(cell.id)
        entry = entries.get(cell.id)
        if entry is None or not entry.get("zh", "").strip():
            out.append(f"{master.name} cell {i} ({cell.id}): no translation")
        elif entry["en"] != digest(cell.source):
            out.append(f"{master.name} cell {i} ({cell.id}): the English changed since it was translated")
    out += [f"{master.name}: a translation of cell {k}, which is no longer in the notebook"
            for k in sorted(set(entries) - ids)]
    return out


def translate(nb, entries):
    """The Chinese edition of one master (a new object): its markdown cells replaced by their translations."""
    nb = nbformat.from_dict(json.loads(json.dumps(nb)))
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            entry = entries.get(cell.id)
            if entry is None or entry["en"] != digest(cell.source):
                raise ValueError(f"cell {cell.id} has no current translation: run "
                                 "`python -m course_lib.translations check`")
            cell.source = entry["zh"]
    nb.metadata["course_edition"] = "zh: generated from the English master by course_lib.translations"
    return nb


def build(dst, folder=TRANSLATIONS):
    """Write the Chinese masters (with the masters' stored outputs) into dst; returns the paths written."""
    dst = Path(dst)
    dst.mkdir(parents=True, exist_ok=True)
    written = []
    for master in masters():
        nb = translate(nbformat.read(master, as_version=4), load(master.stem, folder))
        nbformat.write(nb, dst / master.name)
        written.append(dst / master.name)
    return written


def worklist(dst, folder=TRANSLATIONS):
    """For every chapter, the markdown cells without a current translation, with their English source."""
    dst = Path(dst)
    dst.mkdir(parents=True, exist_ok=True)
    for master in masters():
        nb = nbformat.read(master, as_version=4)
        entries = load(master.stem, folder)
        todo = [{"id": c.id, "en": digest(c.source), "english": c.source,
                 "zh": entries.get(c.id, {}).get("zh", "")}
                for c in nb.cells if c.cell_type == "markdown"]
        (dst / f"{master.stem}.json").write_text(json.dumps(todo, ensure_ascii=False, indent=1) + "\n",
                                                 encoding="utf-8")


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m course_lib.translations", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("check", help="list missing, stale or orphaned translations")
    p = sub.add_parser("worklist", help="write each chapter's cells with their English, to translate")
    p.add_argument("dst")
    p = sub.add_parser("build", help="write the Chinese masters")
    p.add_argument("dst")
    p.add_argument("--student", help="also write their student edition here")
    args = parser.parse_args(argv)
    if args.command == "check":
        found = [m for master in masters() for m in problems(master)]
        print("\n".join(found) if found else "every chapter's translation is complete and current")
        return 1 if found else 0
    if args.command == "worklist":
        worklist(args.dst)
        return 0
    written = build(args.dst)
    print(f"wrote {len(written)} Chinese chapters to {args.dst}")
    if args.student:
        editions.build_student(args.dst, args.student)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
