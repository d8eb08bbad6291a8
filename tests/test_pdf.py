"""Protects the PDF edition (`nox -s pdf`), built once per session from the site build's doctrees
and execution cache: it holds every chapter's title, the shortcut chapter's gradient table with the
published first-layer values in both columns and its glued ratio, a figure for every figure of the
site's chapters (vector, or raster at 200 dpi or more), a sensible number of pages and no "??" of a
broken reference; the landing page's download link finds it in the site. Skipped where TeX Live or
poppler-utils is missing, except in CI, where that fails."""

import json
import os
import re
import shutil
import subprocess

import pytest
from bs4 import BeautifulSoup

from bookbuild import pdf as bookpdf
from conftest import ROOT
from gradflow.published import RASCHKA_CH4_GRADIENTS

pytestmark = pytest.mark.site

TOOLS = ("latexmk", "xelatex", "pdftotext", "pdfimages")
MISSING = [tool for tool in TOOLS if shutil.which(tool) is None]
if MISSING and os.environ.get("CI"):
    raise RuntimeError(f"CI must build the PDF, but {MISSING} are missing (see .ci/run)")
if MISSING:
    pytest.skip(f"needs TeX Live and poppler-utils ({', '.join(MISSING)})", allow_module_level=True)

pypdf = pytest.importorskip("pypdf")


@pytest.fixture(scope="session")
def pdf(site):
    """The PDF edition, built beside the site from its doctrees and executed outputs (no lesson
    executes again) and copied into the site, as `nox -s pdf` does."""
    try:
        return bookpdf.build(site.parent)
    except (RuntimeError, subprocess.CalledProcessError) as error:
        pytest.fail(f"the PDF build failed: {error}")


@pytest.fixture(scope="session")
def text(pdf):
    """The PDF's text in reading order, its whitespace collapsed to single spaces."""
    out = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True)
    return " ".join(out.stdout.split())


def chapter_titles():
    """The first heading of every lesson: the chapters' titles."""
    titles = {}
    for path in sorted((ROOT / "lessons").glob("*.md")):
        heading = re.search(r"^# (.+)$", path.read_text(encoding="utf-8"), re.MULTILINE)
        titles[path.stem] = heading[1].strip()
    return titles


@pytest.mark.parametrize("name", sorted(chapter_titles()))
def test_every_chapter_is_in_the_pdf(text, name):
    title = chapter_titles()[name]
    assert text.count(title) >= 2, f"chapter {title!r} is not in the PDF (and its contents)"


def test_shortcut_table_holds_published_values(pdf):
    """The first row of the gradient table, both columns, as on the site (the published values)."""
    out = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True)
    lines = out.stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if "Table" in line and "Mean absolute" in line)
    number = r"(\d+(?:\.\d+)?(?:e[-+]\d+)?)"
    rows = [re.match(rf"\s*(\d)\s+{number}\s+{number}\s+{number}\s*$", line) for line in lines]
    table = [row for row in rows[start : start + 20] if row]
    assert [int(row[1]) for row in table] == list(range(1, 6)), "\n".join(lines[start : start + 20])
    published = RASCHKA_CH4_GRADIENTS
    assert float(table[0][2]) == pytest.approx(published["without"][0], rel=1e-4)
    assert float(table[0][3]) == pytest.approx(published["with"][0], rel=1e-4)
    assert [float(r[2]) for r in table] == pytest.approx(published["without"], rel=1e-4)
    assert [float(r[3]) for r in table] == pytest.approx(published["with"], rel=1e-4)


def test_glued_numbers_are_in_the_prose(text):
    ratio = RASCHKA_CH4_GRADIENTS["with"][0] / RASCHKA_CH4_GRADIENTS["without"][0]
    assert f"{ratio:.4g} times" in text


def site_figures(site):
    """The figures of the site's chapters: images in the lessons' cell outputs, and explorers."""
    count = 0
    for page in sorted((site / "lessons").glob("*.html")):
        html = BeautifulSoup(page.read_text(encoding="utf-8"), "html.parser")
        count += len(html.select("div.cell_output img, figure.gradflow-explorer"))
    return count


def first_states(site) -> list[tuple[str, str]]:
    """Each explorer of the site's chapters (chapter, what its first state shows): its controls'
    starting values, as the static picture's title names them."""
    states = []
    for page in sorted((site / "lessons").glob("*.html")):
        html = BeautifulSoup(page.read_text(encoding="utf-8"), "html.parser")
        for figure in html.select("figure.gradflow-explorer"):
            texts = json.loads(figure.select_one("script.gfx-data").string)["controls"]
            chosen = []
            for span, control_texts in zip(figure.select(".gfx-control"), texts, strict=True):
                control = span.select_one("input, select")
                if control.name == "select":
                    options = control.select("option")
                    k = [o.has_attr("selected") for o in options].index(True)
                elif control["type"] == "range":
                    k = int(control["value"])
                else:  # a check box
                    k = int(control.has_attr("checked"))
                chosen.append(control_texts[k])
            states.append((page.stem, ", ".join(chosen)))
    return states


def test_every_explorer_is_in_the_pdf_as_its_first_state(text, site):
    """Where no script runs, an explorer is a still picture of its first state, titled with its
    controls' values: each explorer's title is in the PDF's text."""
    states = first_states(site)
    assert states, "the chapters hold no explorer"
    flat = " ".join(text.split())
    missing = [(chapter, title) for chapter, title in states if " ".join(title.split()) not in flat]
    assert not missing, f"explorers without their picture in the PDF: {missing}"


def test_every_figure_is_in_the_pdf(pdf, site):
    """Figures arrive as vector drawings (Form XObjects) or raster images of 200 dpi or more."""
    reader = pypdf.PdfReader(pdf)
    drawings = 0
    for page in reader.pages:
        xobjects = (page.get("/Resources") or {}).get("/XObject") or {}
        drawings += sum(xobjects[name].get_object()["/Subtype"] == "/Form" for name in xobjects)
    listing = subprocess.run(["pdfimages", "-list", str(pdf)], capture_output=True, text=True)
    images = [line.split() for line in listing.stdout.splitlines()[2:] if line.strip()]
    low = [row for row in images if row[2] == "image" and min(int(row[12]), int(row[13])) < 200]
    assert not low, f"raster images below 200 dpi:\n{listing.stdout}"
    figures = site_figures(site)
    assert figures >= 15, f"only {figures} figures found on the site's chapters"
    assert drawings + len(images) >= figures, (
        f"{drawings} drawings and {len(images)} images in the PDF, {figures} figures on the site"
    )


def test_page_count_is_sensible(pdf):
    pages = len(pypdf.PdfReader(pdf).pages)
    assert 40 <= pages <= 400, f"{pages} pages"


def test_no_broken_reference(text):
    assert "??" not in text, text[max(0, text.index("??") - 300) : text.index("??") + 100]


def test_title_page_names_the_version(text):
    import gradflow

    assert f"Version {gradflow.__version__}" in text[:2000]


def test_landing_page_links_to_the_pdf(pdf, site):
    landing = site / "docs" / "index.html"
    links = [a["href"] for a in BeautifulSoup(landing.read_text(), "html.parser").select("a[href]")]
    targets = [(landing.parent / href).resolve() for href in links if href.endswith(".pdf")]
    assert targets, "the landing page does not link to the PDF"
    for target in targets:
        assert target.is_file() and target.read_bytes() == pdf.read_bytes(), target
