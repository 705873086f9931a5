"""`make site`: every chapter has a page in English and in Chinese with its Colab link and a link to the other
language, every image and internal link resolves, and nothing loads from the network (scripts, styles, images,
fonts, math all local)."""
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = sorted(p.stem for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


class Refs(HTMLParser):
    """Every (tag, attribute, value) that points at something: href, src, srcset, data."""

    def __init__(self):
        super().__init__()
        self.refs = []

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if name in ("href", "src", "data") and value:
                self.refs.append((tag, name, value, dict(attrs).get("rel", "")))


def pages(site):
    return [p for p in site.rglob("*.html") if "_static" not in p.parts]


def refs(page):
    parser = Refs()
    parser.feed(page.read_text(encoding="utf-8"))
    return parser.refs


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    out = tmp_path_factory.mktemp("site")
    subprocess.run([sys.executable, str(ROOT / "tools" / "build_site.py"), str(out)], check=True, capture_output=True,
                   timeout=600)
    return out


@pytest.mark.xdist_group("site")
def test_every_chapter_has_a_page_with_its_colab_link(site):
    index = (site / "index.html").read_text(encoding="utf-8")
    for name in CHAPTERS:
        page = site / f"{name}.html"
        assert page.exists(), name
        assert f'href="{name}.html"' in index, f"{name} is not linked from the start page"
        colab = f"https://colab.research.google.com/github/YOUR-ORG/from-one-hot-to-gpt/blob/main/notebooks/{name}.ipynb"
        assert colab in page.read_text(encoding="utf-8"), name
        assert "NBVAL_IGNORE_OUTPUT" not in page.read_text(encoding="utf-8")
        assert f'href="zh/{name}.html"' in page.read_text(encoding="utf-8"), f"{name}: no link to the Chinese page"
        zh = site / "zh" / f"{name}.html"
        assert zh.exists(), f"zh/{name}"
        text = zh.read_text(encoding="utf-8")
        assert colab in text and f'href="../{name}.html"' in text, f"zh/{name}: links"
        assert sum("\u4e00" <= ch <= "\u9fff" for ch in text) > 300, f"zh/{name} is not in Chinese"
    assert 'href="zh/index.html"' in index and 'href="../index.html"' in (site / "zh" / "index.html").read_text()


@pytest.mark.xdist_group("site")
def test_images_and_internal_links_resolve(site):
    for page in pages(site):
        for tag, name, value, _ in refs(page):
            url = urlsplit(value)
            if url.scheme or value.startswith(("#", "mailto:")):
                continue
            target = (page.parent / unquote(url.path)).resolve()
            assert target.exists(), f"{page.name}: <{tag} {name}={value!r}> points at nothing"


@pytest.mark.xdist_group("site")
def test_nothing_loads_from_the_network(site):
    for page in pages(site):
        for tag, name, value, rel in refs(page):
            loads = tag in ("script", "img", "iframe", "source", "embed", "object") or (tag == "link" and name == "href"
                                                                                       and "stylesheet" in rel)
            assert not (loads and urlsplit(value).scheme in ("http", "https") or value.startswith("//")), \
                f"{page.name}: <{tag} {name}={value!r}> loads from the network"
    for css in site.rglob("*.css"):
        text = css.read_text(encoding="utf-8", errors="replace")
        assert not re.search(r"url\(\s*['\"]?(https?:)?//", text), f"{css}: a url() from the network"
        assert "@import" not in text or not re.search(r"@import\s+(url\()?['\"]?(https?:)?//", text), css
    assert (site / "_static" / "mathjax" / "tex-svg.js").exists() and (site / "zh" / "_static" / "mathjax").is_dir()
    assert (site / "_static" / "NotoSansCJKsc-Regular-subset.otf").exists()


@pytest.mark.xdist_group("site")
def test_math_and_figures_are_on_the_pages(site):
    page = (site / "07_gpt.html").read_text(encoding="utf-8")
    assert r"P(c_1 c_2 \dots c_T)" in page and 'class="math' in page   # MathJax typesets it in the browser
    images = [v for t, n, v, _ in refs(site / "07_gpt.html") if t == "img"]
    assert len(images) >= 8
