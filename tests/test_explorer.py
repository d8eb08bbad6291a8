"""Protects the explorable figures (``gradflow.explorer``) and the shortcut chapter's depth explorer
built on them: bad data is refused with a clear error; every state the page embeds draws the values
it was given (its paths read back through the axes, by the inverse of the axis mapping written out
here) with its own caption; the figure is accessible, loads nothing, keeps within its weight budget
and has still pictures for print. In Chromium (marked ``site``, like the other browser tests): a
page of its own, opened from disk and served, redraws its chart and caption as each control moves,
by mouse and by keyboard, and makes no request beyond its own two shared files."""

import functools
import gzip
import http.server
import json
import math
import pickle
import re
import threading
import tomllib
from pathlib import Path
from urllib.parse import urlparse

import pytest
from bs4 import BeautifulSoup

from conftest import ROOT
from gradflow import chart
from gradflow import explorer as gx
from gradflow.axes import Axis, decade, integer_axis, log_axis, sci
from gradflow.chart import Series, View
from gradflow.explorer import Explorer, Menu, Slider, Toggle
from gradflow.plots.shortcut_connections import depth_explorer
from svg_paths import read_path, rounding, states, top_of

# -- a small explorer with one control of each kind -----------------------------------------------
POWERS = [1, 2, 3]
X = [0.1 * k for k in range(1, 11)]


def curve(p: int, scale: str) -> list[float]:
    return [(10.0 if scale == "large" else 1.0) * x**p for x in X]


def small_views() -> dict:
    return {
        (p, scale, both): View(
            f"x to the power {p}, {scale}, {'two lines' if both else 'one line'}",
            {"a": curve(p, scale), **({"b": [2 * v for v in curve(p, scale)]} if both else {})},
            x=X,
        )
        for p in POWERS
        for scale in ("small", "large")
        for both in (False, True)
    }


def small(**changes) -> Explorer:
    """A chart of x to a power: a slider sets the power, a menu the scale, a toggle the 2nd line."""
    kwargs = {
        "controls": [
            Slider("p", "Power", POWERS, [f"power {p}" for p in POWERS]),
            Menu("scale", "Scale", {"small": "small", "large": "ten times larger"}),
            Toggle("both", "Twice as much"),
        ],
        "series": [Series("a", "the curve", "#D55E00"), Series("b", "twice", "#0072B2", "7 4")],
        "views": small_views(),
        "x": Axis("x", 0, 1, ticks=[(0, "0"), (0.5, "0.5"), (1, "1")]),
        "y": log_axis("y", [1e-3, 20]),
        "alt": "Line chart of x to a power, on a logarithmic vertical axis",
    }
    return Explorer(**(kwargs | changes))


def test_embedded_states_draw_the_values_they_come_from():
    explorer = small()
    data, top = explorer.data(), top_of(explorer)
    seen = 0
    for at, (caption, parts) in states(data, 3):
        p, scale, both = (c.values[i] for c, i in zip(explorer.controls, at, strict=True))
        assert caption == f"x to the power {p}, {scale}, {'two lines' if both else 'one line'}"
        xaxis, yaxis = explorer.views[(p, scale, both)][1:3]
        expected = {"a": curve(p, scale), "b": [2 * v for v in curve(p, scale)] if both else None}
        for k, name in enumerate(("a", "b")):
            d = data["pool"][parts[2 + k]]
            if expected[name] is None:
                assert d == "", "a series the view leaves out is not drawn"
                continue
            (run,) = read_path(d, xaxis, yaxis, top)
            assert [x for x, _ in run] == pytest.approx(X, abs=0.05 / (chart.RIGHT - chart.LEFT))
            assert [y for _, y in run] == pytest.approx(expected[name], rel=rounding(yaxis, top))
        seen += 1
    assert seen == 3 * 2 * 2
    assert data["controls"][0] == ["power 1", "power 2", "power 3"]


def test_first_state_is_drawn_without_the_script():
    explorer = small(start={"p": 2, "scale": "large"})
    html = BeautifulSoup(explorer._repr_html_(), "html.parser")
    assert html.figcaption.get_text() == "x to the power 2, large, one line"
    assert html.figcaption["aria-live"] == "polite"
    paths = html.find_all("path", class_="gfx-series")
    xaxis, yaxis = explorer.views[(2, "large", False)][1:3]
    (run,) = read_path(paths[0]["d"], xaxis, yaxis, top_of(explorer))
    assert [y for _, y in run] == pytest.approx(
        curve(2, "large"), rel=rounding(yaxis, top_of(explorer))
    )
    assert paths[1]["d"] == ""
    # without the script (a notebook) the controls stay hidden: a still picture, no dead slider
    assert html.find(class_="gfx-controls").has_attr("hidden")


def test_controls_are_labelled_and_nothing_is_loaded():
    html = BeautifulSoup(small()._repr_html_(), "html.parser")
    slider, menu, box = (
        html.find("input", type="range"),
        html.find("select"),
        html.find(type="checkbox"),
    )
    for control in (slider, menu, box):
        assert control.find_parent("label").get_text(strip=True), "every control has a label"
    assert (slider["min"], slider["max"], slider["value"]) == ("0", "2", "0")
    assert slider["aria-valuetext"] == "power 1"
    assert [o["value"] for o in menu.find_all("option")] == ["small", "large"]
    svg = html.find("svg")
    assert svg["role"] == "img" and svg["aria-label"].startswith("Line chart")
    assert not html.find_all(src=True) and not html.find_all(href=True), "the figure loads nothing"
    scripts = html.find_all("script")
    assert [s["type"] for s in scripts] == ["application/json"], "data only: the code is shared"


def test_data_cannot_end_its_script_element():
    views = {v: View("a </script> b", {"a": [1.0, 2.0]}) for v in (1, 2)}
    explorer = small(
        controls=[Slider("n", "n", [1, 2])], views=views, x=Axis("x", 1, 2), y=Axis("y", 0, 3)
    )
    html = explorer._repr_html_()
    data = html.split('class="gfx-data">', 1)[1].split("</script>", 1)[0]
    assert json.loads(data)["states"][0][0] == "a </script> b"


def test_a_missing_value_is_a_gap_in_the_line():
    views = {v: View("c", {"a": [1e-4, None, 1e-2, 1e-3]}) for v in (1, 2)}
    explorer = small(
        controls=[Slider("n", "n", [1, 2])],
        views=views,
        x=Axis("x", 1, 4),
        y=log_axis("y", [1e-4, 1e-2]),
    )
    (d,) = [p for p in explorer.data()["pool"] if p.startswith("M")]
    assert (
        len(read_path(d, explorer.views[(1,)][1], explorer.views[(1,)][2], top_of(explorer))) == 2
    )


@pytest.mark.parametrize(
    "changes, error, words",
    [
        # ragged: a series with a value too few for its positions
        ({"views": {**small_views(), (1, "small", False): View("c", {"a": [1.0] * 9}, x=X)}}, ValueError, "ragged"),
        ({"views": {**small_views(), (1, "small", False): View("c", {"a": [math.nan] * 10}, x=X)}}, ValueError, "finite"),
        ({"views": {**small_views(), (1, "small", False): View("c", {"a": [math.inf] * 10}, x=X)}}, ValueError, "finite"),
        ({"views": {**small_views(), (1, "small", False): View("c", {"a": ["1"] * 10}, x=X)}}, ValueError, "finite"),
        ({"views": {**small_views(), (9, "small", False): View("c", {"a": [1.0] * 10}, x=X)}}, ValueError, "9 is not a value of control 'p'"),
        ({"views": {k: v for k, v in small_views().items() if k != (2, "large", True)}}, ValueError, "no view"),
        ({"views": {**small_views(), (1, "small", False): View(None, {"a": [1.0] * 10}, x=X)}}, TypeError, "caption"),
        ({"views": {**small_views(), (1, "small", False): View(" ", {"a": [1.0] * 10}, x=X)}}, TypeError, "caption"),
        ({"views": {**small_views(), (1, "small", False): View("c", {"z": [1.0] * 10}, x=X)}}, ValueError, "series"),
        ({"views": {**small_views(), (1, "small", False): View("c", {"a": [1e6] * 10}, x=X)}}, ValueError, "off its axes"),
        ({"views": {**small_views(), (1, "small", False): View("c", {"a": [-1.0] * 10}, x=X)}}, ValueError, "off its axes"),
        ({"views": {**small_views(), (1, "small"): View("c", {"a": [1.0] * 10}, x=X)}}, ValueError, "one value per control"),
        ({"views": {**small_views(), (1, "small", False): "c"}}, TypeError, "not a View"),
        ({"views": [1, 2]}, TypeError, "mapping"),
        ({"start": {"p": 4}}, ValueError, "start"),
        ({"start": {"q": 1}}, ValueError, "start"),
        ({"controls": []}, TypeError, "controls"),
        ({"series": [Series("a", "a", "red"), Series("a", "b", "blue")]}, ValueError, "share a name"),
        ({"y": None}, TypeError, "Axis"),
        ({"alt": ""}, ValueError, "alt"),
    ],
)  # fmt: skip
def test_bad_data_is_refused(changes, error, words):
    with pytest.raises(error, match=re.escape(words)):
        small(**changes)


@pytest.mark.parametrize(
    "make, words",
    [
        (lambda: Slider("p", "Power", []), "one or more"),
        (lambda: Slider("p", "Power", [1, 1]), "distinct"),
        (lambda: Slider("p", "Power", [1, 2], ["one"]), "2 values but 1 texts"),  # mismatched texts
        (lambda: Menu("", "Scale", {"a": "a", "b": "b"}), "name"),
        (lambda: Axis("y", 1, 1), "lo < hi"),
        (lambda: Axis("y", 0, 1, log=True), "above 0"),
        (lambda: Axis("y", 0, 1, ticks=[(2, "2")]), "outside"),
        (lambda: log_axis("y", [0.0, -1.0]), "above 0"),
    ],
)
def test_bad_pieces_are_refused(make, words):
    with pytest.raises((ValueError, TypeError), match=re.escape(words)):
        make()


def test_axes_by_hand():
    axis = log_axis("g", [3e-5, 0.2])  # decades 10⁻⁵ ... 10⁰
    assert (axis.lo, axis.hi) == pytest.approx((1e-5, 1.0))
    assert [t for _, t in axis.ticks] == ["10⁻⁵", "10⁻⁴", "10⁻³", "10⁻²", "10⁻¹", "10⁰"]
    assert [t for _, t in integer_axis("layer", 1, 10).ticks] == ["1", "2", "4", "6", "8", "10"]
    assert [t for _, t in integer_axis("layer", 1, 30).ticks] == [
        "1",
        *map(str, range(5, 31, 5)),
    ]
    assert sci(0.000123456) == "1.23 × 10⁻⁴" and decade(-12) == "10⁻¹²"


@pytest.mark.parametrize("bad", [math.inf, math.nan])
def test_a_log_axis_refuses_values_that_are_not_finite(bad):
    with pytest.raises(ValueError, match="finite"):
        log_axis("g", [1e-3, bad])


def test_static_pictures_for_print_and_notebooks():
    explorer = small()
    assert explorer._repr_pdf_().startswith(b"%PDF")
    assert explorer._repr_png_().startswith(b"\x89PNG")
    assert repr(explorer) == "x to the power 1, small, one line"


def test_shared_files_ship_with_the_package():
    """The script and style are files in gradflow/static, and the wheel's package data takes them."""
    globs = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    patterns = globs["package-data"]["gradflow"]
    for name in gx.ASSETS:
        path = gx.asset(name)
        assert path.is_file() and path.parent == ROOT / "code" / "gradflow" / "static"
        assert any(path.match(p) for p in patterns), f"{name} is not package data"


# -- the shortcut chapter's depth explorer ---------------------------------------------------------
@pytest.fixture(scope="module")
def profiles():
    from gradflow.experiments.shortcut_connections import depth_profiles

    return depth_profiles()


def test_depth_explorer_carries_every_profile(profiles):
    explorer = depth_explorer(profiles)
    data, top = explorer.data(), top_of(explorer)
    depths = list(range(2, 31))
    assert explorer.controls[0].values == depths
    for (k, a), (caption, parts) in states(data, 2):
        depth, name = depths[k], list(profiles)[a]
        view, xaxis, yaxis, _ = explorer.views[(depth, name)]
        assert caption.startswith(f"Depth {depth}, ")
        for j, kind in enumerate(("plain", "residual")):
            values = profiles[name][depth][kind]
            drawn = [
                y
                for run in read_path(data["pool"][parts[2 + j]], xaxis, yaxis, top)
                for _, y in run
            ]
            assert drawn == pytest.approx([v for v in values if v > 0], rel=rounding(yaxis, top))
    # the vertical axis covers every value, in whole decades, in every state
    values = [v for p in profiles.values() for pair in p.values() for s in pair.values() for v in s]
    axis = explorer.views[(2, "gelu")][2]
    assert axis.lo <= min(v for v in values if v > 0) and max(values) <= axis.hi
    assert math.log10(axis.lo) == round(math.log10(axis.lo))


def test_depth_explorer_caption_by_hand():
    profiles = {"tanh": {2: {"plain": [1e-3, 1e-2], "residual": [0.5, 0.2]},
                         3: {"plain": [0.0, 1e-3, 1e-2], "residual": [0.1, 0.2, 0.3]}}}  # fmt: skip
    explorer = depth_explorer(profiles, depth=2)
    assert repr(explorer) == (
        "Depth 2, tanh: the first layer's mean |∂ℒ/∂W| is 1.00 × 10⁻³ without shortcuts and "
        "5.00 × 10⁻¹ with them, 500. times larger."
    )
    assert explorer.data()["states"][1][0][0].endswith("is exactly 0 without shortcuts and "
                                                      "1.00 × 10⁻¹ with them.")  # fmt: skip


def test_depth_explorer_is_accessible_and_within_budget(profiles):
    explorer = depth_explorer(profiles, depth=12)
    html = explorer._repr_html_()
    soup = BeautifulSoup(html, "html.parser")
    slider = soup.find("input", type="range")
    assert slider.find_parent("label").get_text(strip=True) == "Depth"
    assert (slider["min"], slider["max"], slider["value"]) == ("0", "28", "10")
    assert slider["aria-valuetext"] == "12 layers"
    assert soup.find("select").find_parent("label") is not None
    assert soup.figcaption.get_text().startswith("Depth 12, GELU")
    for path in soup.find_all("path", class_="gfx-series"):
        assert path["d"].count("M") + path["d"].count("L") == 12, "one point per layer"
    # what an explorer adds to its page, gzipped: its figure and the shared script and style
    shared = b"".join(gx.asset(name).read_bytes() for name in gx.ASSETS)
    weight = len(gzip.compress(html.encode())) + len(gzip.compress(shared))
    assert weight <= 30_000, f"the depth explorer adds {weight} bytes gzipped"


@pytest.mark.parametrize(
    "profiles, kwargs, error",
    [
        ({}, {}, TypeError),
        ({"gelu": {2: {"plain": [1.0], "residual": [1.0, 1.0]}}}, {"depth": 2}, ValueError),
        ({"gelu": {2: {"plain": [-1.0, 1.0], "residual": [1.0, 1.0]}}}, {"depth": 2}, ValueError),
        ({"gelu": {2: {"plain": [1.0, 1.0], "residual": [1.0, 1.0]}}}, {"depth": 9}, ValueError),
        ({"gelu": {2: {"plain": [1.0, 1.0], "residual": [1.0, 1.0]}}}, {"activation": "x"}, ValueError),
        ({"gelu": {2: {"plain": [1.0, 1.0], "residual": [1.0, 1.0]}}, "tanh": {3: {}}}, {}, ValueError),
    ],
)  # fmt: skip
def test_depth_explorer_rejects_bad_input(profiles, kwargs, error):
    with pytest.raises(error):
        depth_explorer(profiles, **kwargs)


# -- in the browser: a page of its own, opened from disk and served --------------------------------
class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # keep the test output clean
        pass


@pytest.fixture(scope="module")
def standalone(tmp_path_factory) -> Path:
    """The small explorer as a page of its own, the shared script and style beside it."""
    return small().save(tmp_path_factory.mktemp("explorer") / "page.html")


@pytest.fixture(scope="module")
def served(standalone):
    handler = functools.partial(QuietHandler, directory=str(standalone.parent))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/page.html"
    httpd.shutdown()


def drawing(page) -> tuple[str, str]:
    """The chart's drawn parts and the caption, as the reader's browser has them now."""
    figure = page.locator("figure.gradflow-explorer")
    return figure.locator("svg").inner_html(), figure.locator("figcaption").inner_text()


def move(page, control: str, how: str) -> None:
    """Move one control by mouse or by keyboard, as a reader would."""
    figure = page.locator("figure.gradflow-explorer")
    if control == "slider":
        slider = figure.get_by_role("slider", name="Power")
        if how == "mouse":
            box = slider.bounding_box()
            page.mouse.click(box["x"] + box["width"] - 4, box["y"] + box["height"] / 2)
        else:
            slider.focus()
            page.keyboard.press("ArrowRight")
    elif control == "menu":
        menu = figure.get_by_role("combobox", name="Scale")
        if how == "mouse":  # the open list is the browser's own, outside the page: pick from it
            menu.click()
            menu.select_option("large")
        else:
            menu.focus()
            page.keyboard.press("ArrowDown")
    else:
        box = figure.get_by_role("checkbox", name="Twice as much")
        if how == "mouse":
            box.click()
        else:
            box.focus()
            page.keyboard.press("Space")


@pytest.mark.site
@pytest.mark.parametrize("how", ["mouse", "keyboard"])
@pytest.mark.parametrize("control", ["slider", "menu", "toggle"])
@pytest.mark.parametrize("where", ["from-disk", "served"])
def test_each_control_redraws_the_chart_and_caption(
    browser, standalone, served, where, control, how
):
    context = browser.new_context(viewport={"width": 390, "height": 844})
    page = context.new_page()
    requests = []
    page.on("request", lambda request: requests.append(request.url))
    url = standalone.as_uri() if where == "from-disk" else served
    page.goto(url)
    page.locator(".gfx-controls:not([hidden])").wait_for()  # the script has run
    before = drawing(page)
    assert before[1] == "x to the power 1, small, one line"
    move(page, control, how)
    after = drawing(page)
    context.close()
    assert after[0] != before[0], f"the {control} moved by {how} did not redraw the chart"
    expected = {
        "slider": "x to the power 2" if how == "keyboard" else "x to the power 3",
        "menu": "x to the power 1, large,",
        "toggle": "two lines",
    }[control]
    assert expected in after[1], after[1]
    # the page, its script and its style, and nothing else
    names = {Path(urlparse(u).path).name for u in requests}
    assert names == {"page.html", "explorer.js", "explorer.css"}, requests
    assert {urlparse(u).hostname or "" for u in requests} <= {"", "127.0.0.1"}, requests


@pytest.mark.site
def test_slider_tells_a_screen_reader_its_value(browser, standalone):
    page = browser.new_page()
    page.goto(standalone.as_uri())
    slider = page.get_by_role("slider", name="Power")
    slider.fill("2")
    assert slider.get_attribute("aria-valuetext") == "power 3"
    assert page.locator("output").inner_text() == "power 3"
    page.close()


# -- in the book: one shared script and stylesheet, linked where an explorer is --------------------
@pytest.mark.build
def test_book_links_the_shared_files_where_an_explorer_is(tmp_path):
    """A small book of two lessons, one with an explorer: its page links the shared script
    (deferred) and stylesheet in _static, with their checksums; the other page links neither."""
    import os

    from conftest import lesson, small_book, sphinx_build

    cell = (
        "from gradflow.axes import Axis\n"
        "from gradflow.chart import Series, View\n"
        "from gradflow.explorer import Explorer, Slider\n\n"
        'views = {n: View(f"n = {n}", {"a": [1.0, float(n)]}) for n in (1, 2)}\n'
        'Explorer([Slider("n", "n", [1, 2])], [Series("a", "a", "red")], views,\n'
        '         x=Axis("x", 1, 2), y=Axis("y", 0, 2), alt="A line that rises with n")'
    )
    pages = {"with": lesson("With", cell), "without": lesson("Without", "print(1)")}
    src = small_book(tmp_path / "src", pages)
    env = {**os.environ, "PYTHONPATH": str(ROOT / "code")}
    result = sphinx_build(src, tmp_path / "html", env=env)
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    html = {name: (tmp_path / "html" / "lessons" / f"{name}.html").read_text() for name in pages}
    assert re.search(r'<script defer="defer" src="../_static/explorer\.js\?v=\w+">', html["with"])
    assert re.search(r'<link[^>]+href="../_static/explorer\.css\?v=\w+"', html["with"])
    assert 'class="gradflow-explorer"' in html["with"]
    assert "explorer.js" not in html["without"] and "explorer.css" not in html["without"]
    for name in gx.ASSETS:
        assert (tmp_path / "html" / "_static" / name).read_bytes() == gx.asset(name).read_bytes()
    # an edit to the script or stylesheet writes the explorer's page again (new checksum)
    with open(tmp_path / "doctrees" / "environment.pickle", "rb") as f:
        dependencies = {k: {str(p) for p in v} for k, v in pickle.load(f).dependencies.items()}
    assets = {str(gx.asset(name)) for name in gx.ASSETS}
    assert assets <= dependencies["lessons/with"]
    assert not assets & dependencies.get("lessons/without", set())
