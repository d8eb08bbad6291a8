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
"""

import shutil
from pathlib import Path

from docutils import nodes
from myst_nb.sphinx_ext import add_global_html_resources
from sphinx.application import Sphinx
from sphinx_exercise import copy_asset_files

from gradflow.explorer import ASSETS, asset

EXPLORER = 'class="gradflow-explorer"'  # the mark of an explorer's HTML


def copy_early(app: Sphinx, builder) -> None:
    if builder.format == "html":
        static = Path(app.outdir) / "_static"
        static.mkdir(parents=True, exist_ok=True)
        add_global_html_resources(app, None)
        copy_asset_files(app, None)
        for name in ASSETS:
            shutil.copyfile(asset(name), static / name)


def note_assets(app: Sphinx, doctree: nodes.document) -> None:
    """A page that holds an explorer is read again when its script or stylesheet changes."""
    if any(EXPLORER in node.astext() for node in doctree.findall(nodes.raw)):
        for name in ASSETS:
            app.env.note_dependency(str(asset(name)))


def link_explorer(app: Sphinx, pagename: str, templatename: str, context: dict, doctree) -> None:
    """A page that holds an explorer links its script (deferred) and stylesheet."""
    if EXPLORER in context.get("body", ""):
        app.add_css_file("explorer.css")
        app.add_js_file("explorer.js", loading_method="defer")


def setup(app: Sphinx) -> dict:
    app.connect("write-started", copy_early)
    app.connect("doctree-read", note_assets)
    app.connect("html-page-context", link_explorer)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
