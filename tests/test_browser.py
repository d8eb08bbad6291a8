"""Protects what a reader's browser shows, in a real browser: Debian's Chromium driven by
Playwright on the built site served from 127.0.0.1. Math renders (MathML, drawn by the browser), the copy button copies
a cell's code, search finds a chapter, the dark-mode toggle works and leaves figures on white, a
phone-width page has no sideways scroll, no request leaves the machine, and the site also works
opened straight from disk. Skipped where Chromium is missing, except in CI, where that fails."""

import functools
import http.server
import os
import threading
from urllib.parse import urlparse

import pytest

from conftest import CHROMIUM, ROOT

pytestmark = pytest.mark.site

if CHROMIUM is None and os.environ.get("CI"):
    raise RuntimeError("CI must run the browser tests: apt-get install chromium (see .ci/run)")
if CHROMIUM is None:
    pytest.skip("needs Chromium: apt-get install chromium", allow_module_level=True)

pytest.importorskip("playwright.sync_api")


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # keep the test output clean
        pass


@pytest.fixture(scope="module")
def server(site):
    """The built site, served on a free port of 127.0.0.1 for the module's tests."""
    handler = functools.partial(QuietHandler, directory=str(site))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


@pytest.fixture
def page(browser, server):
    """A fresh page that records every request it makes."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=server)
    page = context.new_page()
    page.requests = []
    page.on("request", lambda request: page.requests.append(request.url))
    yield page
    context.close()


def wait_for_math(page):
    """At least ten formulas are on the page and the browser laid each one out as math."""
    page.wait_for_function(
        """() => {
            const formulas = [...document.querySelectorAll('.bd-content math')];
            return formulas.length >= 10 && formulas.every(
                (m) => m.getBoundingClientRect().width > 0 && getComputedStyle(m).display.endsWith('math')
            );
        }""",
        timeout=30_000,
    )


def test_math_is_rendered(page, server):
    page.goto(f"{server}/lessons/shortcut_connections.html")
    wait_for_math(page)
    # a fraction is drawn as one: its numerator sits above its denominator
    above = page.evaluate(
        """() => {
            const [num, den] = document.querySelector('.bd-content mfrac').children;
            return num.getBoundingClientRect().bottom <= den.getBoundingClientRect().top + 1;
        }"""
    )
    assert above, "a fraction's numerator is not drawn above its denominator"


def test_no_request_leaves_the_machine(page, server):
    for path in ("docs/index.html", "lessons/shortcut_connections.html"):
        page.goto(f"{server}/{path}", wait_until="networkidle")
    hosts = {urlparse(url).hostname for url in page.requests if url.startswith("http")}
    assert hosts == {"127.0.0.1"}, f"requests left 127.0.0.1: {hosts}"


def test_copy_button_copies_the_cells_code(page, server):
    page.goto(f"{server}/lessons/shortcut_connections.html")
    cell = page.locator("div.cell_input").first
    code = cell.locator("pre").inner_text()
    cell.hover()
    cell.locator("button.copybtn").click()
    copied = page.evaluate("navigator.clipboard.readText()")
    assert copied.strip() == code.strip()
    assert "import torch" in copied


def test_search_finds_the_vanishing_chapter(page, server):
    page.goto(f"{server}/search.html?q=vanishing")
    results = page.locator("#search-results a")
    results.first.wait_for(timeout=30_000)
    hrefs = [results.nth(i).get_attribute("href") for i in range(results.count())]
    assert any("vanishing_gradients" in h for h in hrefs), hrefs


def test_dark_mode_toggle_keeps_figures_on_white(page, server):
    page.goto(f"{server}/lessons/vanishing_gradients.html")
    assert page.evaluate("document.documentElement.dataset.theme") == "light"
    page.locator("button.theme-switch-button:visible").click()  # opens the colour-mode menu
    page.locator("button.theme-change-button[data-mode='dark']:visible").click()
    assert page.evaluate("document.documentElement.dataset.theme") == "dark"
    background = page.evaluate(
        "getComputedStyle(document.querySelector('.cell_output img')).backgroundColor"
    )
    assert background == "rgb(255, 255, 255)", "figures lose their white ground in dark mode"


PAGES = [
    f"{folder}/{page.stem}.html"
    for folder in ("docs", "lessons")
    for page in sorted((ROOT / folder).glob("*.md"))
]


@pytest.mark.parametrize("path", PAGES)
def test_phone_width_page_does_not_scroll_sideways(browser, server, path):
    context = browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=2)
    page = context.new_page()
    page.goto(f"{server}/{path}")
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    context.close()
    assert overflow <= 1, f"{path} scrolls sideways by {overflow} px at 390 px"


@pytest.mark.parametrize("path", [p for p in PAGES if p.startswith("lessons/")])
def test_code_fits_the_text_column_on_a_laptop(browser, server, path):
    """At 1280 px no code block needs a scroll bar: the package's lines (up to 100 characters)
    and the lessons' cells fit the column."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto(f"{server}/{path}")
    widest = page.evaluate(
        """() => Math.max(0, ...[...document.querySelectorAll('.bd-content pre')].map(
            (pre) => pre.scrollWidth - pre.clientWidth))"""
    )
    context.close()
    assert widest <= 1, f"a code block of {path} scrolls sideways by {widest} px at 1280 px"


@pytest.mark.parametrize("width", [390, 1000, 1280])
def test_contents_button_opens_the_pages_contents(browser, server, width):
    """Where the page's contents are not beside the text, the visible button opens them."""
    context = browser.new_context(viewport={"width": width, "height": 900})
    page = context.new_page()
    page.goto(f"{server}/lessons/transformer_block.html")
    page.locator("button.secondary-toggle:visible").click()
    dialog = page.locator("#pst-secondary-sidebar-modal")
    dialog.wait_for(state="visible", timeout=5_000)
    links = dialog.locator("a.nav-link").count()
    context.close()
    assert links >= 5, f"the contents opened at {width} px list {links} sections"


def test_scrollable_code_takes_the_keyboard_focus_on_a_phone(browser, server):
    """book.js gives every code block and output that scrolls a tab stop and those that fit none,
    as the theme would (its own one-task pass is taken out by bookbuild.static), including blocks
    in sections not yet laid out."""
    context = browser.new_context(viewport={"width": 390, "height": 844})
    page = context.new_page()
    page.goto(f"{server}/lessons/transformer_block.html", wait_until="load")
    page.wait_for_timeout(1_500)  # the slices run between other tasks after the load event
    blocks = page.evaluate(
        """() => [...document.querySelectorAll('.bd-content pre, .cell_output > .output')].map(
            (el) => [el.scrollWidth > el.clientWidth || el.scrollHeight > el.clientHeight,
                     el.getAttribute('tabindex')])"""
    )
    context.close()
    scrolling = [tabindex for scrolls, tabindex in blocks if scrolls]
    fitting = [tabindex for scrolls, tabindex in blocks if not scrolls]
    assert scrolling and set(scrolling) == {"0"}, scrolling
    assert set(fitting) <= {"-1"}, set(fitting)


def test_colour_theme_is_set_before_the_themes_script_runs(browser, server):
    """The first paint already has the reader's colour theme ("light" or "dark", which the
    stylesheets match), not the theme's placeholder "auto" that its deferred script replaces
    later: with that script never arriving, the page is still light (Chromium's default)."""
    context = browser.new_context(viewport={"width": 390, "height": 844})
    page = context.new_page()
    page.route("**/pydata-sphinx-theme.js*", lambda route: route.abort())
    page.goto(f"{server}/lessons/training_transformers.html", wait_until="load")
    theme = page.evaluate("document.documentElement.dataset.theme")
    context.close()
    assert theme == "light"


def test_sections_below_the_screen_are_laid_out_after_the_load(browser, server):
    """On a phone the sections below the screen wait to be laid out while the page loads (book.css:
    content-visibility), and book.js lays each out after the load event, so that the page is then
    laid out whole, as accessibility checkers measure it, without the reader scrolling."""
    context = browser.new_context(viewport={"width": 390, "height": 844})
    page = context.new_page()
    page.goto(f"{server}/lessons/transformer_block.html", wait_until="load")
    page.wait_for_timeout(1_500)
    waits = page.evaluate(
        """() => { const s = document.createElement('section');
                   document.querySelector('.bd-article section').append(s);
                   const value = getComputedStyle(s).contentVisibility; s.remove(); return value; }"""
    )
    headings = page.locator(".bd-article section section > :first-child")
    unshown = headings.evaluate_all(
        "(hs) => hs.filter((h) => !h.checkVisibility({contentVisibilityAuto: true})).length"
    )
    context.close()
    assert waits == "auto", f"a section below the screen is laid out at once ({waits})"
    assert unshown == 0, f"{unshown} sections are still not laid out after the load"


@pytest.mark.parametrize("width", [390, 1280])
@pytest.mark.parametrize(
    "link", ["transformer_block.html#tf-pre-post", "why_residuals_work.html#wr-init"]
)
def test_a_link_to_a_section_far_down_lands_on_it(browser, server, width, link):
    """A link to a section far down a long chapter (the ledger's "measured in" links, {ref}s
    between chapters) shows that section at the top of the screen, just below the sticky bar, and
    it stays there while book.js lays out the sections above it (without help, Chromium lost the
    first target by thousands of pixels)."""
    context = browser.new_context(viewport={"width": width, "height": 844})
    page = context.new_page()
    page.goto(f"{server}/lessons/{link}", wait_until="load")
    page.wait_for_timeout(1_500)  # the slices have laid out the whole page by then
    target = page.locator(f"#{link.split('#')[1]}")
    top = target.evaluate("(el) => el.getBoundingClientRect().top")
    padding = page.evaluate(
        "parseFloat(getComputedStyle(document.documentElement).scrollPaddingTop)"
    )
    shown = target.evaluate("(el) => el.checkVisibility({contentVisibilityAuto: true})")
    context.close()
    assert abs(top - padding) <= 4, f"{link} at {width} px: the target is {top:.0f} px from the top"
    assert shown, f"{link} at {width} px: the target is not drawn"


def test_menu_button_opens_the_chapters_on_a_phone(browser, server):
    context = browser.new_context(viewport={"width": 390, "height": 844})
    page = context.new_page()
    page.goto(f"{server}/lessons/transformer_block.html")
    page.locator("button.primary-toggle:visible").click()
    dialog = page.locator("#pst-primary-sidebar-modal")
    dialog.wait_for(state="visible", timeout=5_000)
    chapters = dialog.locator("a[href$='vanishing_gradients.html']").count()
    context.close()
    assert chapters >= 1, "the phone's menu does not list the chapters"


def test_site_works_from_disk(browser, site):
    """Opened as file://, the root forwards to the landing page, links work and math renders."""
    context = browser.new_context()
    page = context.new_page()
    page.goto((site / "index.html").as_uri())
    page.wait_for_url("**/docs/index.html")
    page.locator("article a[href$='shortcut_connections.html']").first.click()
    page.wait_for_url("**/lessons/shortcut_connections.html")
    wait_for_math(page)
    context.close()


LESSONS = sorted(p.stem for p in (ROOT / "lessons").glob("*.md"))


def nudge(control, page) -> None:
    """Move one control of an explorer by one step with the keyboard, as a reader would: a slider
    or a menu to its next value (its previous one at the end), a check box on or off."""
    control.focus()
    kind = control.evaluate("el => el.type")
    if kind == "checkbox":
        page.keyboard.press("Space")
    elif kind == "range":
        at_end = control.evaluate("el => el.value === el.max")
        page.keyboard.press("ArrowLeft" if at_end else "ArrowRight")
    else:  # select-one
        at_end = control.evaluate("el => el.selectedIndex === el.options.length - 1")
        page.keyboard.press("ArrowUp" if at_end else "ArrowDown")


@pytest.mark.parametrize("served", [True, False], ids=["served", "from-disk"])
@pytest.mark.parametrize("lesson", LESSONS)
def test_every_chapter_has_an_explorer_whose_controls_all_redraw_it(
    browser, server, site, served, lesson
):
    """Every chapter holds at least one explorable figure (issue 24), and in each, every control
    moved by the keyboard redraws the chart and changes the caption the screen reader hears, served
    and opened as file://, with no request leaving the page."""
    context = browser.new_context(viewport={"width": 390, "height": 844})
    page = context.new_page()
    requests = []
    page.on("request", lambda request: requests.append(request.url))
    path = f"lessons/{lesson}.html"
    page.goto(f"{server}/{path}" if served else (site / path).as_uri())
    figures = page.locator("figure.gradflow-explorer")
    assert figures.count() >= 1, f"{lesson} has no explorer"
    for i in range(figures.count()):
        figure = figures.nth(i)
        figure.locator(".gfx-controls:not([hidden])").wait_for()  # the script has run
        controls = figure.locator(".gfx-controls input, .gfx-controls select")
        assert controls.count() >= 1
        for j in range(controls.count()):
            before = figure.locator("svg").inner_html(), figure.locator("figcaption").inner_text()
            nudge(controls.nth(j), page)
            after = figure.locator("svg").inner_html(), figure.locator("figcaption").inner_text()
            assert after[0] != before[0], (
                f"{lesson}: explorer {i + 1}, control {j + 1} drew nothing"
            )
            assert after[1] != before[1], (
                f"{lesson}: explorer {i + 1}, control {j + 1}: same caption"
            )
    context.close()
    away = [u for u in requests if (urlparse(u).hostname or "") not in {"", "127.0.0.1"}]
    assert not away, f"requests that left the page: {away}"


@pytest.mark.parametrize("served", [True, False], ids=["served", "from-disk"])
def test_depth_explorer_redraws_as_its_controls_move(browser, server, site, served):
    """The shortcut chapter's interactive figure, served and opened as file://: the depth slider
    redraws the plain curve with one point per layer and the caption names the new depth; the
    activation menu redraws it too. Its script and style are the book's shared files in _static,
    and nothing else is fetched for it."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    requests = []
    page.on("request", lambda request: requests.append(request.url))
    path = "lessons/shortcut_connections.html"
    page.goto(f"{server}/{path}" if served else (site / path).as_uri())
    assert any("/_static/explorer.js" in url for url in requests)
    assert any("/_static/explorer.css" in url for url in requests)
    figure = page.locator("figure.gradflow-explorer")
    plain, caption = figure.locator("path.gfx-series").first, figure.locator("figcaption")
    assert caption.get_attribute("aria-live") == "polite"
    before = plain.get_attribute("d")
    # the slider's positions are the depths 2, 3, ..., 30: position 18 is depth 20
    figure.get_by_role("slider", name="Depth").fill(
        "18"
    )  # sets the value and fires `input`, as a drag does
    after = plain.get_attribute("d")
    assert after != before
    assert after.count("M") + after.count("L") == 20, "one point per layer of a 20-layer network"
    assert caption.inner_text().startswith("Depth 20, GELU")
    assert figure.locator("output").inner_text() == "20 layers"
    figure.get_by_role("combobox", name="Activation").select_option("sigmoid")
    assert plain.get_attribute("d") not in (before, after)
    assert caption.inner_text().startswith("Depth 20, sigmoid")
    context.close()


@pytest.mark.parametrize("width", [390, 1280])
def test_download_menu_offers_the_executed_notebook(browser, server, width):
    context = browser.new_context(viewport={"width": width, "height": 900})
    page = context.new_page()
    page.goto(f"{server}/lessons/vanishing_gradients.html")
    menu = page.locator(".dropdown-download-buttons")
    menu.locator("button.dropdown-toggle").click()
    link = menu.locator("a.btn-download-notebook-button")
    link.wait_for(state="visible", timeout=5_000)
    response = page.request.get(link.evaluate("a => a.href"))
    ok, notebook = response.ok, response.json()
    context.close()
    assert ok
    assert any(cell.get("outputs") for cell in notebook["cells"]), "the notebook has no outputs"
