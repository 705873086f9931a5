"""How `make test` shares its work between two workers (pytest-xdist with --dist loadgroup).

A notebook's cells must run in order in one kernel, so each notebook's nbval items form one group. Everything
else is free to go to either worker. The longest work starts first: every notebook item, and the student-edition
run of the same chapter, is ranked by how long the chapter took when `make execute` last recorded it (nbclient
stores each cell's start and end in its metadata). That keeps the two workers busy until the end, instead of
leaving the slowest chapter for last.
"""
import datetime
import json
from functools import lru_cache
from pathlib import Path

import pytest

NOTEBOOKS = Path(__file__).resolve().parent / "notebooks"


@lru_cache(maxsize=None)
def recorded_seconds(stem):
    """How long the master notebook `stem` took in its last recording (0 when it holds no timings)."""
    path = NOTEBOOKS / f"{stem}.ipynb"
    if not path.exists():
        return 0.0
    total = 0.0
    for cell in json.loads(path.read_text(encoding="utf-8"))["cells"]:
        times = cell.get("metadata", {}).get("execution", {})
        if "iopub.execute_input" in times and "shell.execute_reply" in times:
            start, end = (datetime.datetime.fromisoformat(times[k].replace("Z", "+00:00"))
                          for k in ("iopub.execute_input", "shell.execute_reply"))
            total += (end - start).total_seconds()
    return total


def _chapter(item):
    """The master notebook an item runs (its nbval cells, or its student edition), else None."""
    path = Path(str(item.fspath))
    if path.suffix == ".ipynb":
        return path.stem
    if item.name.startswith("test_student_edition_runs"):
        return next((p.stem for p in NOTEBOOKS.glob(f"{item.callspec.id}_*.ipynb")), None)
    return None


@pytest.hookimpl(tryfirst=True)  # before xdist reads the groups
def pytest_collection_modifyitems(config, items):
    for item in items:
        if Path(str(item.fspath)).suffix == ".ipynb":
            item.add_marker(pytest.mark.xdist_group(name=Path(str(item.fspath)).stem))
    weight = {id(item): recorded_seconds(c) if (c := _chapter(item)) else 0.0 for item in items}
    items.sort(key=lambda item: -weight[id(item)])  # stable: a notebook's cells keep their order
