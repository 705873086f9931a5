"""A real nbgrader round trip on chapter 03 (the quickest with three exercises): generate, submit, autograde,
validate, feedback, export.

Two students: one hands in the right answers, the other leaves one exercise unfinished and gets two wrong.
The scores must be 3/3 and 0/3 — also when nobody set COURSE_STRICT (the checks see nbgrader's kernels) — and
`nbgrader validate` must not tell the second one that his notebook passes.
"""
import csv
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest


ROOT = Path(__file__).resolve().parents[1]
CHAPTER = "03_self_attention"
WRONG = {  # softmax: unfinished
    "attention_scores": "    return q @ k.transpose(-2, -1)",                            # not scaled
    "self_attention": "    w = torch.softmax(x @ w_q @ (x @ w_k).transpose(-2, -1), dim=0)\n"
                      "    return w @ (x @ w_v), w",                                   # wrong axis, not scaled
}


def nbgrader(root, *args):
    env = {k: v for k, v in os.environ.items() if k not in ("COURSE_STRICT", "NBGRADER_EXECUTION")}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"  # nbgrader runs `alembic`
    done = subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=root, env=env, text=True,
                          capture_output=True, timeout=900)
    assert done.returncode == 0, f"nbgrader {' '.join(args)} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done.stdout + done.stderr


def hand_in(root, student, answers):
    """The released notebook with each exercise's stub replaced by `answers[grade_id]` (body lines)."""
    nb = nbformat.read(root / "release" / "ch03" / f"{CHAPTER}.ipynb", as_version=4)
    for cell in nb.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id in answers:
            cell.source = cell.source.replace("    # YOUR CODE HERE\n    raise NotImplementedError()", answers[grade_id])
    folder = root / "submitted" / student / "ch03"
    folder.mkdir(parents=True)
    nbformat.write(nb, folder / f"{CHAPTER}.ipynb")
    return folder / f"{CHAPTER}.ipynb"


def solutions():
    """The masters' answers, by grade_id: the lines between the solution markers."""
    nb = nbformat.read(ROOT / "notebooks" / f"{CHAPTER}.ipynb", as_version=4)
    out = {}
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("solution"):
            lines = cell.source.split("\n")
            begin = next(i for i, line in enumerate(lines) if "### BEGIN SOLUTION" in line)
            end = next(i for i, line in enumerate(lines) if "### END SOLUTION" in line)
            out[meta["grade_id"]] = "\n".join(lines[begin + 1:end])
    return out


def course(tmp_path, config):
    """A course folder with the chapter as assignment ch03, released (answers replaced, outputs cleared)."""
    root = tmp_path / "course"
    (root / "source" / "ch03").mkdir(parents=True)
    shutil.copy(ROOT / "notebooks" / f"{CHAPTER}.ipynb", root / "source" / "ch03")
    (root / "nbgrader_config.py").write_text(config)
    nbgrader(root, "generate_assignment", "ch03", "--force")
    released = nbformat.read(root / "release" / "ch03" / f"{CHAPTER}.ipynb", as_version=4)
    assert sum("raise NotImplementedError()" in c.source for c in released.cells) == 3
    assert all(not c.get("outputs") for c in released.cells if c.cell_type == "code")
    return root


def grades(root, student):
    from nbgrader.api import Gradebook
    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gb:
        graded = gb.find_submission_notebook(CHAPTER, "ch03", student)
        return {g.name: g.score for g in graded.grades}


@pytest.mark.xdist_group("nbgrader")
def test_round_trip_with_the_course_config(tmp_path):
    root = course(tmp_path, (ROOT / "nbgrader_config.py").read_text())
    hand_in(root, "alice", solutions())
    hand_in(root, "bob", WRONG)
    nbgrader(root, "autograde", "ch03", "--create")
    nbgrader(root, "generate_feedback", "ch03")
    nbgrader(root, "export", "--to", str(root / "grades.csv"))
    with open(root / "grades.csv") as f:
        scores = {row["student_id"]: (float(row["score"]), float(row["max_score"])) for row in csv.DictReader(f)}
    assert scores == {"alice": (3.0, 3.0), "bob": (0.0, 3.0)}, scores
    assert grades(root, "alice") == {"check_softmax": 1.0, "check_attention_scores": 1.0, "check_self_attention": 1.0}
    assert grades(root, "bob") == dict.fromkeys(("check_softmax", "check_attention_scores", "check_self_attention"), 0.0)

    feedback = (root / "feedback" / "bob" / "ch03" / f"{CHAPTER}.html").read_text()
    assert "not implemented yet" in feedback                      # the check's own lines tell him why
    assert feedback.count("❌") >= 2


@pytest.mark.xdist_group("nbgrader")
def test_a_config_without_course_strict_gives_no_free_marks(tmp_path):
    root = course(tmp_path, "c = get_config()  # noqa: F821\nc.Execute.timeout = 900\n")
    bob = hand_in(root, "bob", WRONG)
    said = nbgrader(root, "validate", str(bob))
    assert "Success! Your notebook passes all the tests." not in said
    assert "VALIDATION FAILED" in said
    nbgrader(root, "autograde", "ch03", "--create")
    assert grades(root, "bob") == dict.fromkeys(("check_softmax", "check_attention_scores", "check_self_attention"), 0.0)
