"""Protects what readers see: a fresh strict build of the whole book has its pages, the shortcut
lesson's HTML table holds the published values, every figure has real alt text, no cell printed an
error or a figure placeholder, everything is served from the site itself, and math arrives as MathML."""

import re

import pytest
from bs4 import BeautifulSoup

from conftest import ROOT
from gradflow.published import RASCHKA_CH4_GRADIENTS

pytestmark = pytest.mark.site

# Raschka (2024), ch. 4: the values the shortcut lesson's table must reproduce, typed once
PUBLISHED_WITHOUT = RASCHKA_CH4_GRADIENTS["without"]
PUBLISHED_WITH = RASCHKA_CH4_GRADIENTS["with"]


def pages(site):
    """Every HTML page the book wrote, except Sphinx's own search and index pages."""
    skip = {"search.html", "genindex.html", "py-modindex.html"}
    return [p for p in site.rglob("*.html") if p.name not in skip and "_static" not in p.parts]


def soup(path):
    return BeautifulSoup(path.read_text(encoding="utf-8"), "html.parser")


def test_landing_page_and_lessons_exist(site):
    assert "docs/index.html" in (site / "index.html").read_text()  # the root opens the landing page
    landing = soup(site / "docs" / "index.html")
    links = {a["href"].split("#")[0] for a in landing.select("article a[href]")}
    lessons = sorted(p.stem for p in (ROOT / "lessons").glob("*.md"))
    assert "shortcut_connections" in lessons
    for name in lessons:  # every written chapter is built and linked from the landing page
        assert (site / "lessons" / f"{name}.html").is_file(), f"lesson {name} was not built"
        assert f"../lessons/{name}.html" in links, f"the landing page does not link to {name}"


def test_shortcut_table_holds_published_values(site):
    page = soup(site / "lessons" / "shortcut_connections.html")
    tables = [t for t in page.find_all("table") if "Mean absolute gradient" in t.get_text()]
    assert len(tables) == 1, "expected exactly one gradient table on the shortcut page"
    header = [th.get_text(strip=True) for th in tables[0].select("thead th")]
    col_without, col_with = header.index("without shortcuts"), header.index("with shortcuts")
    rows = [
        [td.get_text(strip=True) for td in tr.find_all("td")] for tr in tables[0].select("tbody tr")
    ]
    assert [float(r[col_without]) for r in rows] == pytest.approx(PUBLISHED_WITHOUT, rel=1e-4)
    assert [float(r[col_with]) for r in rows] == pytest.approx(PUBLISHED_WITH, rel=1e-4)


def test_every_image_has_descriptive_alt_text(site):
    for page in pages(site):
        for img in soup(page).find_all("img"):
            alt = (img.get("alt") or "").strip()
            where = f"{page.relative_to(site)}: <img src={img.get('src')}>"
            assert alt, f"{where} has no alt text"
            assert not re.search(r"\.(png|svg|jpe?g|gif)$", alt) and "/" not in alt.split()[0], (
                f"{where} has a file path as alt text: {alt!r}"
            )
            assert len(alt.split()) >= 5 or "logo" in alt.lower(), (
                f"{where}: alt too short: {alt!r}"
            )


def test_no_cell_printed_an_error_or_placeholder(site):
    for page in pages(site):
        html = soup(page)
        where = page.relative_to(site)
        for out in html.select("div.cell_output"):
            classes = " ".join(c for div in out.find_all("div") for c in div.get("class", []))
            assert "traceback" not in classes and "stderr" not in classes, (
                f"{where}: {out.get_text()[:500]}"
            )
            assert "Traceback (most recent call last)" not in out.get_text(), f"{where}"
        text = html.get_text()
        assert "<Figure size" not in text, f"{where} shows a figure placeholder instead of a figure"
        assert "{glue" not in text, f"{where} shows an unresolved glue role"


def test_glued_numbers_rendered_in_prose(site):
    page = soup(site / "lessons" / "shortcut_connections.html")
    text = page.get_text(" ", strip=True)
    ratio = PUBLISHED_WITH[0] / PUBLISHED_WITHOUT[0]  # the first layer's, with over without
    assert f"{ratio:.4g} times" in text


def test_no_external_assets(site):
    """The site must work offline: no script or stylesheet is fetched from another host."""
    for page in pages(site):
        html = soup(page)
        for tag, attr in (("script", "src"), ("link", "href")):
            for el in html.find_all(tag):
                url = el.get(attr) or ""
                if tag == "link" and "stylesheet" not in (el.get("rel") or []):
                    continue
                assert not url.startswith(("http:", "https:", "//")), f"{page.name} loads {url}"


def test_math_is_mathml_written_at_build_time(site):
    """Every formula is MathML in the page: no script typesets it, no TeX is left for one to find."""
    for page in pages(site):
        html = soup(page)
        scripts = [s.get("src", "") for s in html.find_all("script")]
        assert not any("mathjax" in s.lower() for s in scripts), f"{page.name} loads MathJax"
        for formula in html.select(".math"):
            assert formula.find("math"), f"{page.name}: a formula is not MathML: {formula}"
            assert "\\" not in formula.get_text(), f"{page.name}: TeX left in {formula}"
    page = soup(site / "lessons" / "shortcut_connections.html")
    assert page.select("div.math > math[display=block]"), "no display math on the shortcut page"


def test_landing_page_shows_the_shortcut_chapters_figure(site):
    """The landing page's summary figure is the shortcut chapter's own gradient figure (the same
    image file), with alt text, a caption and its size (no layout shift)."""
    image = soup(site / "docs" / "index.html").select_one("figure#fig-book-summary img")
    assert image is not None, "the landing page has no summary figure"
    assert len(image.get("alt", "")) > 80 and image.get("width") and image.get("height")
    assert (site / "docs" / image["src"]).resolve().is_file()
    name = image["src"].rsplit("/", 1)[-1]
    assert name in (site / "lessons" / "shortcut_connections.html").read_text(encoding="utf-8")
    caption = image.find_parent("figure").select_one("figcaption").get_text()
    assert "five-layer network" in caption
