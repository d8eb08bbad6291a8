"""Every page of a clean build links its stylesheets and scripts as an incremental build does.

Sphinx adds a checksum to a stylesheet's link (``exercise.css?v=982b99e0``) when the file is already
in ``_static`` as the page is written. MyST-NB and sphinx-exercise copy their stylesheets there only
when the build finishes, so a clean build's pages linked them without the checksum and the next
build's with it: two builds of one commit differed. Copying them when writing starts, with the
extensions' own functions, gives every build the same pages.

The explorable figures of ``gradflow.explorer`` share one script and one stylesheet, copied here
too and linked from the pages that hold an explorer (and from no other page): a reader's browser
fetches them once for the whole book. Such a page depends on both files, so an edit to either
writes the page again with the new checksum: no page links a stale copy.

One line of the theme's script goes: the call that, once the page has loaded, measures every code
block and output at once to give the scrollable ones a tab stop. With most of a chapter's sections
not yet laid out (book.css), that measuring lays out the whole page in one task, the longest of a
page's load on a phone; book.js does the same a few blocks at a time. A theme whose script no
longer holds that call fails the build, so that the two are looked at again together.
"""

import re
import shutil
from pathlib import Path

from docutils import nodes
from myst_nb.sphinx_ext import add_global_html_resources
from sphinx.application import Sphinx
from sphinx.util import logging
from sphinx_exercise import copy_asset_files

logger = logging.getLogger(__name__)

EXPLORER = 'class="gradflow-explorer"'  # the mark of an explorer's HTML


def explorer_assets() -> list[Path]:
    """The explorers' shared files; none for a book whose package has no explorer (the build
    engine's test books bring a small package of their own)."""
    try:
        from gradflow.explorer import ASSETS, asset
    except ModuleNotFoundError:
        return []
    return [asset(name) for name in ASSETS]


def copy_early(app: Sphinx, builder) -> None:
    if builder.format == "html":
        static = Path(app.outdir) / "_static"
        static.mkdir(parents=True, exist_ok=True)
        add_global_html_resources(app, None)
        copy_asset_files(app, None)
        for path in explorer_assets():
            shutil.copyfile(path, static / path.name)


def note_assets(app: Sphinx, doctree: nodes.document) -> None:
    """A page that holds an explorer is read again when its script or stylesheet changes."""
    if any(EXPLORER in node.astext() for node in doctree.findall(nodes.raw)):
        for path in explorer_assets():
            app.env.note_dependency(str(path))


def link_explorer(app: Sphinx, pagename: str, templatename: str, context: dict, doctree) -> None:
    """A page that holds an explorer links its script (deferred) and stylesheet."""
    if EXPLORER in context.get("body", ""):
        app.add_css_file("explorer.css")
        app.add_js_file("explorer.js", loading_method="defer")


THEME_JS = "scripts/pydata-sphinx-theme.js"
# the minified call of the theme's addTabStopsToScrollableElements, once the page has loaded
TAB_STOPS_CALL = re.compile(
    r'"complete"===document\.readyState\?(\w+)\(\):window\.addEventListener\("load",\1\)'
)
TAB_STOPS_MARK = "e.scrollWidth>e.clientWidth"  # ... and its body, to be sure it is that function


def drop_tab_stop_pass(app: Sphinx, exception: Exception | None) -> None:
    """Take the theme's all-at-once tab-stop pass out of its script (book.js does it in slices)."""
    if exception is not None or app.builder.format != "html":
        return
    script = Path(app.outdir) / "_static" / THEME_JS
    text = script.read_text(encoding="utf-8") if script.is_file() else ""
    calls = TAB_STOPS_CALL.findall(text)
    if len(calls) != 1 or TAB_STOPS_MARK not in text:
        if "book.js does the tab stops" not in text:
            logger.warning(
                f"bookbuild.static: {THEME_JS} no longer calls its tab-stop pass as expected; "
                "see docs/_static/book.js"
            )
        return
    script.write_text(
        TAB_STOPS_CALL.sub("/* book.js does the tab stops */void 0", text), encoding="utf-8"
    )


def setup(app: Sphinx) -> dict:
    app.connect("build-finished", drop_tab_stop_pass)
    app.connect("write-started", copy_early)
    app.connect("doctree-read", note_assets)
    app.connect("html-page-context", link_explorer)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
