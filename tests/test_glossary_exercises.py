"""Protects the learning aids of the built site: the glossary defines the book's terms and every
chapter links to it; every chapter opens with what it teaches and how long it takes (the same
minutes as the landing page), ends with its key points, and has at least three exercises whose
solutions are folded until opened and show the result of the changed experiment."""

import re

import pytest
from bs4 import BeautifulSoup

from conftest import ROOT

pytestmark = pytest.mark.site

CHAPTERS = [
    "vanishing_gradients",
    "shortcut_connections",
    "shortcuts_in_training",
    "why_residuals_work",
    "transformer_block",
    "training_transformers",
]
# terms the issue asks the glossary to define (one name per entry; aliases share the entry)
TERMS = [
    "Residual branch",
    "Shortcut connection",
    "Skip connection",
    "Residual connection",
    "Residual stream",
    "Jacobian",
    "Vanishing gradient",
    "Exploding gradient",
    "Xavier initialisation",
    "Glorot initialisation",
    "He initialisation",
    "Kaiming initialisation",
    "GPT-2 initialisation",
    "Filter normalisation",
    "Degradation problem",
    "Pre-LN",
    "Post-LN",
    "Layer normalisation",
    "Rank collapse",
    "Warm-up",
    "ReZero gate",
    "SkipInit gate",
    "Spectral norm",
    "GELU",
]
INDEX = (ROOT / "docs" / "index.md").read_text()


def soup(path):
    return BeautifulSoup(path.read_text(encoding="utf-8"), "html.parser")


def chapter(site, name):
    return soup(site / "lessons" / f"{name}.html")


def test_glossary_defines_the_terms(site):
    page = site / "docs" / "glossary.html"
    assert page.is_file(), "the glossary page was not built"
    html = soup(page)
    for link in html.select("dl dt a.headerlink"):  # the "#" that links to a term
        link.decompose()
    defined = {dt.get_text(" ", strip=True) for dt in html.select("dl dt")}
    missing = [t for t in TERMS if t not in defined]
    assert not missing, f"the glossary does not define {missing}"
    for dt in html.select("dl dt"):  # every term can be linked to
        assert (dt.get("id") or "").startswith("term-"), dt
    for dd in html.select("dl dd"):  # every definition points to where the book treats it
        assert dd.select("a[href*='lessons/']"), (
            f"a definition without a link: {dd.get_text()[:80]}"
        )


def test_glossary_is_in_the_reference_toctree(site):
    landing = soup(site / "docs" / "index.html")
    assert landing.select("a[href='glossary.html']"), "the landing page does not list the glossary"


@pytest.mark.parametrize("name", CHAPTERS)
def test_chapter_links_to_the_glossary(site, name):
    links = chapter(site, name).select("article a[href*='glossary.html#term-']")
    assert links, f"{name} links to no glossary term"
    targets = [a["href"].split("#")[1] for a in links]
    assert len(targets) == len(set(targets)), f"{name} links a term more than once: {targets}"
    glossary_ids = {dt.get("id") for dt in soup(site / "docs" / "glossary.html").select("dl dt")}
    assert set(targets) <= glossary_ids, f"{name} links to unknown terms"


@pytest.mark.parametrize("name", CHAPTERS)
def test_chapter_opens_with_what_it_teaches_and_its_reading_time(site, name):
    article = chapter(site, name).select_one("article")
    opener = article.select_one("div.admonition")  # the first admonition of the page
    assert opener is not None and "In this chapter" in opener.select_one(".admonition-title").text
    bullets = opener.select("li")
    assert 3 <= len(bullets) <= 5, f"{name}: {len(bullets)} bullets in the opener"
    minutes = re.search(r"[Aa]bout (\d+) minutes", opener.get_text())
    assert minutes, f"{name}: the opener gives no reading time"
    # the landing page's time of the chapter (its item in the list), from bookbuild.reading_time
    items = soup(site / "docs" / "index.html").select("article li")
    item = next(li for li in items if li.select_one(f'a[href$="lessons/{name}.html"]'))
    listed = re.search(r"reading about (\d+) minutes", item.get_text(" "))
    assert listed and listed.group(1) == minutes.group(1), f"{name}: opener, landing page disagree"
    # it comes before the first section of the chapter
    first_section = article.select_one("section section")
    assert opener.sourceline < first_section.sourceline


@pytest.mark.parametrize("name", CHAPTERS)
def test_chapter_closes_with_its_key_points(site, name):
    article = chapter(site, name).select_one("article")
    sections = article.select("section > section")
    assert sections[-1].get("id") == "key-points", f"{name} does not end with its key points"
    points = sections[-1].find("ul", recursive=False).find_all("li", recursive=False)
    assert 4 <= len(points) <= 6, f"{name}: {len(points)} key points"


@pytest.mark.parametrize("name", CHAPTERS)
def test_chapter_has_three_exercises_with_folded_executed_solutions(site, name):
    article = chapter(site, name).select_one("article")
    exercises = article.select("div.exercise")
    solutions = article.select("div.solution")
    assert len(exercises) >= 3, f"{name}: {len(exercises)} exercises"
    assert len(solutions) == len(exercises), f"{name}: every exercise needs one solution"
    exercise_ids = {ex.get("id") for ex in exercises}
    for solution in solutions:
        where = f"{name}, solution {solution.get('id')}"
        assert "dropdown" in solution.get("class", []), f"{where} is not folded"
        refers_to = {a["href"].lstrip("#") for a in solution.select(".admonition-title a[href]")}
        assert refers_to & exercise_ids, f"{where} does not name its exercise"
        executed = solution.select("div.cell_output, span.pasted-text, .pasted-inline")
        assert executed, f"{where} shows neither executed output nor glued numbers"
        assert "{glue" not in solution.get_text(), f"{where} has an unresolved glue role"
