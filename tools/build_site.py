"""Build the course website from the masters and their stored outputs (no re-execution): `make site`.

    python tools/build_site.py [OUT]      # default build/site; open OUT/index.html (English), OUT/zh/ (中文)

The tool is Sphinx with MyST-NB (notebooks as pages) and the Furo theme; this script only prepares its
sources in build/site-src-en and build/site-src-zh: website/ (conf.py, the start page, _static) and a copy of
every chapter with a links line at the top ("Open in Colab", built from pyproject.toml's Repository URL on
branch main, and the other language), without stored widget state and without the tests'
`# NBVAL_IGNORE_OUTPUT` lines. Into _static it copies the course's CJK font and MathJax 3 (from the
django-static-mathjax wheel, a plain copy of MathJax), so the site loads nothing from the network. The
Chinese pages come from the Chinese edition (course_lib.translations) and go to OUT/zh/.
"""
import argparse
import importlib.util
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import nbformat

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from course_lib import translations  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
FONT = ROOT / "course_lib" / "data" / "fonts" / "NotoSansCJKsc-Regular-subset.otf"
MATHJAX_PARTS = ("tex-svg.js", "input", "output/svg.js", "ui", "a11y", "adaptors")  # no speech rules (sre)


def repository():
    """(owner, name) of the GitHub repository named in pyproject.toml's [project.urls] Repository."""
    url = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["urls"]["Repository"]
    match = re.fullmatch(r"https://github\.com/([^/]+)/([^/]+?)(?:\.git)?/?", url)
    if not match:
        raise SystemExit(f"pyproject.toml's Repository must be https://github.com/OWNER/NAME, got {url!r}")
    return match.groups()


def colab_url(owner, name, notebook):
    return f"https://colab.research.google.com/github/{owner}/{name}/blob/main/notebooks/{notebook}"


LINKS = {
    "en": "[Open this chapter in Colab]({colab}) · <a href=\"zh/{page}.html\">中文版</a> · or run it with `make lab` (the "
          "[start page](index.md) says how)",
    "zh": "[在 Colab 中打开本章]({colab})（代码与英文版相同）· <a href=\"../{page}.html\">English</a> · 或在本地用 `make lab` 运行"
          "（见[首页](index.md)）",
}


def chapter(path, owner, name, lang="en"):
    """The master (or its Chinese edition) with a links line after its title cell — Colab and the other
    language — no stored widget state and no nbval markers (they are for the tests, not for readers)."""
    nb = nbformat.read(path, as_version=4)
    if lang == "zh":
        nb = translations.translate(nb, translations.load(path.stem))
    nb.metadata.pop("widgets", None)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.source = "\n".join(line for line in cell.source.split("\n") if line.strip() != "# NBVAL_IGNORE_OUTPUT")
    nb.cells.insert(1, nbformat.v4.new_markdown_cell(LINKS[lang].format(colab=colab_url(owner, name, path.name),
                                                                        page=path.stem)))
    return nb


def mathjax(dst):
    spec = importlib.util.find_spec("mathjax")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("MathJax is missing: pip install -e '.[site]' (it comes with django-static-mathjax)")
    es5 = Path(list(spec.submodule_search_locations)[0]) / "static" / "mathjax" / "es5"
    for part in MATHJAX_PARTS:
        src = es5 / part
        if not src.exists():
            continue
        (dst / part).parent.mkdir(parents=True, exist_ok=True)
        (shutil.copytree if src.is_dir() else shutil.copy)(src, dst / part)


def prepare(src, lang="en"):
    if src.exists():
        shutil.rmtree(src)
    shutil.copytree(ROOT / "website", src, ignore=shutil.ignore_patterns("index*.md"))
    owner, name = repository()
    notebooks = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    for path in notebooks:
        nbformat.write(chapter(path, owner, name, lang), src / path.name)
    index = (ROOT / "website" / ("index.zh.md" if lang == "zh" else "index.md")).read_text()
    (src / "index.md").write_text(index.replace("CHAPTERS", "\n".join(p.stem for p in notebooks)))
    if lang == "zh":
        with open(src / "conf.py", "a") as conf:
            conf.write('\nlanguage = "zh_CN"\nhtml_title = "从独热编码到 GPT"\n')
    shutil.copy(FONT, src / "_static" / FONT.name)
    mathjax(src / "_static" / "mathjax")
    return notebooks


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("out", nargs="?", default=str(ROOT / "build" / "site"))
    out = Path(parser.parse_args().out).resolve()
    if out.exists():
        shutil.rmtree(out)
    for lang, target in (("en", out), ("zh", out / "zh")):
        src = ROOT / "build" / f"site-src-{lang}"
        notebooks = prepare(src, lang)
        subprocess.run([sys.executable, "-m", "sphinx", "-b", "html", "-q", "-j", "1", str(src), str(target)],
                       check=True)
    print(f"{len(notebooks)} chapters in English and Chinese: open {out / 'index.html'}")


if __name__ == "__main__":
    main()
