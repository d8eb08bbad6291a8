"""Protects what keeps the pages light and steady: math converted to MathML at build time (checked
against hand-written MathML), figures that reserve their space and load lazily, scripts that do not
block the first paint, a first paint that waits for no script or search index it does not need."""

import logging

import pytest
from bs4 import BeautifulSoup
from docutils import nodes

from bookbuild.mathml import to_mathml


def mathml(latex: str, display: bool = False) -> BeautifulSoup:
    return BeautifulSoup(to_mathml(latex, display, nodes.math()), "html.parser")


def test_fraction_is_an_mfrac_of_its_numerator_and_denominator():
    frac = mathml(r"\frac{a}{b}").find("mfrac")
    numerator, denominator = frac.find_all(recursive=False)  # each may sit in an <mrow>
    assert numerator.find("mi").get_text() == "a"
    assert denominator.find("mi").get_text() == "b"


def test_display_math_is_a_block():
    assert mathml("x^2", display=True).math["display"] == "block"
    assert mathml("x^2").math["display"] == "inline"


def test_aligned_becomes_a_table_aligned_at_the_relation():
    table = mathml(r"\begin{aligned} h &= x + y \\ y &= h \end{aligned}", display=True)
    rows = table.find_all("mtr")
    assert len(rows) == 2
    for row, left in zip(rows, ["h", "y"], strict=True):
        cells = row.find_all("mtd", recursive=False)
        assert [c["columnalign"] for c in cells] == ["right", "left"]
        assert cells[0].get_text() == left
        assert cells[1].find("mo").get_text() == "="


def test_operator_names_are_identifiers_and_limits_stay_operators():
    formula = mathml(r"\operatorname{LN}(x) + \max_i x_i")
    assert formula.find("mi", string="LN") is not None  # set like a function name, not a "+"
    assert formula.find("mo", string="max") is not None  # keeps its limits


def test_an_unknown_command_is_a_warning(caplog):
    with caplog.at_level(logging.WARNING):
        mathml(r"\notacommand{x} + 1")
    assert any("notacommand" in record.getMessage() for record in caplog.records)


@pytest.mark.site
def test_figures_reserve_their_space_and_load_lazily(site):
    for page in sorted(site.glob("lessons/*.html")):
        images = BeautifulSoup(page.read_text(encoding="utf-8"), "html.parser").select(
            ".bd-content img"
        )
        assert images, f"{page.name} shows no figure"
        for k, img in enumerate(images):
            assert int(img["width"]) > 0 and int(img["height"]) > 0, f"{page.name}: {img['src']}"
            assert (img.get("loading") == "lazy") == (k > 0), f"{page.name}: image {k} loading"


@pytest.mark.site
def test_only_documentation_options_blocks_the_first_paint(site):
    head = BeautifulSoup(
        (site / "lessons" / "shortcut_connections.html").read_text(encoding="utf-8"), "html.parser"
    ).head
    blocking = [
        s["src"]
        for s in head.find_all("script", src=True)
        if not s.has_attr("defer") and not s.has_attr("async")
    ]
    assert [src.split("?")[0] for src in blocking] == ["../_static/documentation_options.js"]


@pytest.mark.site
def test_the_theme_styles_load_without_its_icon_script(site):
    for page in ("docs/index.html", "lessons/shortcut_connections.html", "search.html"):
        head = BeautifulSoup((site / page).read_text(encoding="utf-8"), "html.parser").head
        styles = [link["href"].split("?")[0] for link in head.find_all("link", rel="stylesheet")]
        assert any(href.endswith("_static/styles/theme.css") for href in styles), page
        scripts = [s["src"] for s in head.find_all("script", src=True)]
        assert not any("fontawesome.js" in src for src in scripts), f"{page} loads fontawesome.js"


# Font Awesome's published code points of icons the theme shows (fontawesome.com/icons)
ICONS = {
    "magnifying-glass": 0xF002,  # search
    "bars": 0xF0C9,  # the chapters' sidebar
    "list": 0xF03A,  # "on this page"
    "sun": 0xF185,  # colour modes
    "moon": 0xF186,
    "circle-half-stroke": 0xF042,
    "arrow-up": 0xF062,  # back to top
    "xmark": 0xF00D,  # closes the search dialog
    "circle-info": 0xF05A,  # note admonitions
    "lightbulb": 0xF0EB,  # tip admonitions
    "triangle-exclamation": 0xF071,  # warning admonitions
}


@pytest.mark.site
def test_icon_font_is_cut_to_the_icons_in_use(site):
    from fontTools.ttLib import TTFont

    font = site / "_static" / "vendor" / "fontawesome" / "webfonts" / "fa-solid-900.woff2"
    cmap = TTFont(font).getBestCmap()
    missing = [name for name, code in ICONS.items() if code not in cmap]
    assert not missing, f"the cut icon font lost {missing}"
    assert len(cmap) < 100 and font.stat().st_size < 10_000, (len(cmap), font.stat().st_size)


@pytest.mark.site
def test_theme_stylesheet_keeps_the_icon_rules_in_use(site):
    """The theme's stylesheet, which the first paint waits for, keeps the rule of each icon class
    the pages show (with Font Awesome's code point) and drops the other 1,900."""
    css = (site / "_static" / "styles" / "pydata-sphinx-theme.css").read_text(encoding="utf-8")
    shown = ("magnifying-glass", "bars", "list", "sun", "moon", "circle-half-stroke", "arrow-up")
    for name in shown:
        assert f'.fa-{name}{{--fa:"\\{ICONS[name]:x}"}}' in css, name
    assert css.count("{--fa:") < 100, css.count("{--fa:")


@pytest.mark.site
@pytest.mark.parametrize("page", ["docs/index.html", "lessons/transformer_block.html"])
def test_pages_load_neither_the_search_index_nor_script_preloads(site, page):
    """Search opens search.html (the theme's search-as-you-type is off), so the other pages leave
    out the search scripts and the 100 KB index; and no script is preloaded at a stylesheet's
    priority."""
    head = BeautifulSoup((site / page).read_text(encoding="utf-8"), "html.parser").head
    scripts = [s["src"].split("?")[0].rsplit("/", 1)[-1] for s in head.find_all("script", src=True)]
    assert not {"searchindex.js", "searchtools.js", "language_data.js"} & set(scripts), scripts
    assert not head.find_all("link", rel="preload", attrs={"as": "script"})
    search = BeautifulSoup((site / "search.html").read_text(encoding="utf-8"), "html.parser")
    assert any("searchindex.js" in s["src"] for s in search.find_all("script", src=True))
