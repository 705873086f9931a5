"""Build the course website from the masters and their stored outputs (no re-execution): `make site`.

    python tools/build_site.py [OUT]            # default build/site; then open OUT/index.html, or serve OUT anywhere

The tool is Sphinx with MyST-NB (notebooks as pages) and the Furo theme; this script only prepares its
sources in build/site-src: website/ (conf.py, index.md, _static), and a copy of every chapter with an
"Open in Colab" link at the top (built from pyproject.toml's Repository URL, branch main) , without stored
widget state and without the tests' `# NBVAL_IGNORE_OUTPUT` lines. Into _static it copies the course's CJK font and MathJax 3 (from the django-static-mathjax
wheel, a plain copy of MathJax), so the site loads nothing from the network.
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


def chapter(path, owner, name):
    """The master with an "Open in Colab" line after its title cell, no stored widget state and no nbval
    markers (they are for the tests, not for readers)."""
    nb = nbformat.read(path, as_version=4)
    nb.metadata.pop("widgets", None)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.source = "\n".join(line for line in cell.source.split("\n") if line.strip() != "# NBVAL_IGNORE_OUTPUT")
    link = nbformat.v4.new_markdown_cell(f"[Open this chapter in Colab]({colab_url(owner, name, path.name)}) · "
                                         "or run it with `make lab` (the [start page](index.md) says how)")
    nb.cells.insert(1, link)
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


def prepare(src):
    if src.exists():
        shutil.rmtree(src)
    shutil.copytree(ROOT / "website", src)
    owner, name = repository()
    notebooks = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    for path in notebooks:
        nbformat.write(chapter(path, owner, name), src / path.name)
    index = src / "index.md"
    index.write_text(index.read_text().replace("CHAPTERS", "\n".join(p.stem for p in notebooks)))
    shutil.copy(FONT, src / "_static" / FONT.name)
    mathjax(src / "_static" / "mathjax")
    return notebooks


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("out", nargs="?", default=str(ROOT / "build" / "site"))
    out = Path(parser.parse_args().out).resolve()
    src = ROOT / "build" / "site-src"
    notebooks = prepare(src)
    if out.exists():
        shutil.rmtree(out)
    subprocess.run([sys.executable, "-m", "sphinx", "-b", "html", "-q", "-j", "1", str(src), str(out)], check=True)
    print(f"{len(notebooks)} chapters: open {out / 'index.html'}")


if __name__ == "__main__":
    main()
