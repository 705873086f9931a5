"""Master notebooks are in sync (setup cell, nbgrader metadata), and the student edition builds and runs."""
import json
from pathlib import Path

import nbformat
import pytest

from course_lib import editions

ROOT = Path(__file__).resolve().parent.parent
MASTERS = sorted((ROOT / "notebooks").glob("[0-9]*.ipynb"))
IDS = [p.stem[:2] for p in MASTERS]


def _read(path):
    return nbformat.read(path, as_version=4)


def test_every_chapter_is_there():
    assert [p.stem[:2] for p in MASTERS] == IDS and len(MASTERS) >= 2


@pytest.mark.parametrize("path", MASTERS, ids=IDS)
def test_master_is_synced(path):
    nb = _read(path)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code[0].source == editions.setup_cell_source(), "run `make sync` (or `make execute`)"
    before = json.dumps([c.metadata for c in nb.cells], sort_keys=True)
    after = json.dumps([c.metadata for c in editions.sync(_read(path)).cells], sort_keys=True)
    assert before == after, "nbgrader metadata out of date: run `make sync`"


@pytest.mark.parametrize("path", MASTERS, ids=IDS)
def test_master_outputs_every_check_passed(path):
    nb = _read(path)
    for name, sol, chk in editions.exercises(nb):
        meta = nb.cells[sol].metadata["nbgrader"]
        assert meta["solution"] and meta["grade_id"] == name and meta["schema_version"] == 3
        grade = nb.cells[chk].metadata["nbgrader"]
        assert grade["grade"] and grade["locked"] and grade["points"] == 1 and grade["grade_id"] == f"check_{name}"
        printed = "".join(o.get("text", "") for o in nb.cells[chk].outputs)
        assert printed.startswith(f"✅ {name}: passed"), f"{path.name}: {name}: {printed!r}"
    for cell in nb.cells:
        assert all(o.output_type != "error" for o in cell.get("outputs", [])), f"{path.name} stores an error"


def test_strip_solutions_keeps_indentation():
    src = "def f(x):\n    \"\"\"doc\"\"\"\n    ### BEGIN SOLUTION\n    y = x + 1\n    return y\n    ### END SOLUTION\n"
    assert editions.strip_solutions(src) == (
        "def f(x):\n    \"\"\"doc\"\"\"\n    # YOUR CODE HERE\n    raise NotImplementedError()\n")
    with pytest.raises(ValueError, match="never closed"):
        editions.strip_solutions("### BEGIN SOLUTION\nx = 1\n")


def test_sync_requires_a_check_after_each_exercise():
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("# Setup"),
        nbformat.v4.new_code_cell("def f(x):\n    ### BEGIN SOLUTION\n    return x\n    ### END SOLUTION"),
        nbformat.v4.new_markdown_cell("no check here")])
    with pytest.raises(ValueError, match="check.f\\(f\\)"):
        editions.sync(nb)


def test_student_edition_never_overwrites_a_students_work(tmp_path):
    src = tmp_path / "masters"
    src.mkdir()
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("# Setup"),
        nbformat.v4.new_code_cell("def f(x):\n    ### BEGIN SOLUTION\n    return x + 41\n    ### END SOLUTION"),
        nbformat.v4.new_code_cell("check.f(f)")])
    nbformat.write(editions.sync(nb, repo="https://example.org/course"), src / "01_x.ipynb")
    dst = tmp_path / "student"
    assert len(editions.build_student(src, dst, log=lambda *_: None)) == 1
    handed_out = (dst / "01_x.ipynb").read_text()
    assert "x + 41" not in handed_out and "raise NotImplementedError()" in handed_out
    assert editions.build_student(src, dst, log=lambda *_: None) == []  # unchanged: nothing to do

    (dst / "01_x.ipynb").write_text(handed_out.replace("# YOUR CODE HERE", "return x + 1"))
    messages = []
    assert editions.build_student(src, dst, log=messages.append) == []
    assert "return x + 1" in (dst / "01_x.ipynb").read_text() and "kept" in messages[0]
    assert len(editions.build_student(src, dst, force=True, log=lambda *_: None)) == 1
    assert (dst / "01_x.ipynb").read_text() == handed_out


def _solution_lines(nb):
    lines, inside = [], False
    for cell in nb.cells:
        for line in cell.source.split("\n"):
            if line.strip() == editions.BEGIN:
                inside = True
            elif line.strip() == editions.END:
                inside = False
            elif inside and len(line.strip()) > 12:
                lines.append(line.strip())
    return lines


@pytest.fixture(scope="module")
def student_dir(tmp_path_factory):
    dst = tmp_path_factory.mktemp("student")
    editions.build_student(ROOT / "notebooks", dst, log=lambda *_: None)
    return dst


@pytest.mark.parametrize("path", MASTERS, ids=IDS)
def test_student_edition_runs_and_every_check_waits(path, student_dir):
    master = _read(path)
    student_path = student_dir / path.name
    student = _read(student_path)
    text = student_path.read_text()
    assert editions.BEGIN not in text and editions.END not in text
    outside = "\n".join(c.source for c in student.cells)
    leaked = [line for line in _solution_lines(master) if line in outside
              and sum(line in c.source for c in master.cells if editions.BEGIN not in c.source) == 0]
    assert not leaked, f"solution text left in the student edition: {leaked[:3]}"
    assert all(not c.get("outputs") for c in student.cells if c.cell_type == "code")

    ran = editions.execute(student_path)  # raises CellExecutionError on any error
    for name, _, chk in editions.exercises(ran):
        printed = "".join(o.get("text", "") for o in ran.cells[chk].outputs)
        assert printed.startswith(f"⏳ {name}: not implemented yet"), f"{name}: {printed!r}"
