"""The Chinese edition: every markdown cell of every master has a current translation, the generated
notebooks keep the masters' code and outputs, a changed English cell goes stale, and the Chinese student
edition runs."""
import json

import nbformat
import pytest

from course_lib import editions, translations

MASTERS = translations.masters()
IDS = [p.stem[:2] for p in MASTERS]


@pytest.mark.parametrize("master", MASTERS, ids=IDS)
def test_every_cell_has_a_current_translation(master):
    found = translations.problems(master)
    assert not found, "\n".join(found[:10]) + "\n(python -m course_lib.translations worklist DIR lists them)"


@pytest.mark.parametrize("master", MASTERS, ids=IDS)
def test_the_chinese_edition_keeps_code_and_outputs(master):
    english = nbformat.read(master, as_version=4)
    chinese = translations.translate(english, translations.load(master.stem))
    assert len(chinese.cells) == len(english.cells)
    for en, zh in zip(english.cells, chinese.cells):
        assert en.cell_type == zh.cell_type and en.id == zh.id
        if en.cell_type == "code":
            assert zh.source == en.source and zh.outputs == en.outputs
        else:
            assert zh.source != en.source or not en.source.strip()
    prose = "".join(c.source for c in chinese.cells if c.cell_type == "markdown")
    assert sum("\u4e00" <= ch <= "\u9fff" for ch in prose) > 0.1 * len(prose.replace(" ", ""))  # it is Chinese


def test_a_changed_english_cell_goes_stale(tmp_path):
    master = MASTERS[0]
    nb = nbformat.read(master, as_version=4)
    cell = next(c for c in nb.cells if c.cell_type == "markdown")
    entries = [{"id": c.id, "en": translations.digest(c.source), "zh": "译文"} for c in nb.cells
               if c.cell_type == "markdown"]
    (tmp_path / f"{master.stem}.json").write_text(json.dumps(entries, ensure_ascii=False), encoding="utf-8")
    assert translations.problems(master, tmp_path) == []
    cell.source += " One more sentence."
    changed = tmp_path / master.name
    nbformat.write(nb, changed)
    assert any("the English changed" in m for m in translations.problems(changed, tmp_path))
    entries.pop(0)
    (tmp_path / f"{master.stem}.json").write_text(json.dumps(entries, ensure_ascii=False), encoding="utf-8")
    assert any("no translation" in m for m in translations.problems(master, tmp_path))
    with pytest.raises(ValueError, match="no current translation"):
        translations.translate(nb, translations.load(master.stem, tmp_path))


@pytest.mark.parametrize("stem", ["00_start_here", "03_self_attention"])
def test_the_chinese_student_edition_runs(tmp_path, stem):
    zh = tmp_path / "zh"
    translations.build(zh)
    editions.build_student(zh, tmp_path / "student-zh", log=lambda *_: None)
    ran = editions.execute(tmp_path / "student-zh" / f"{stem}.ipynb")  # raises on any error
    for name, _, chk in editions.exercises(ran):
        printed = "".join(o.get("text", "") for o in ran.cells[chk].outputs)
        assert printed.startswith(f"⏳ {name}: not implemented yet"), printed
