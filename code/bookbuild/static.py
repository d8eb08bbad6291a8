"""Every page of a clean build links its stylesheets as an incremental build does.

Sphinx adds a checksum to a stylesheet's link (``exercise.css?v=982b99e0``) when the file is already
in ``_static`` as the page is written. MyST-NB and sphinx-exercise copy their stylesheets there only
when the build finishes, so a clean build's pages linked them without the checksum and the next
build's with it: two builds of one commit differed. Copying them when writing starts, with the
extensions' own functions, gives every build the same pages.
"""

from pathlib import Path

from myst_nb.sphinx_ext import add_global_html_resources
from sphinx.application import Sphinx
from sphinx_exercise import copy_asset_files


def copy_early(app: Sphinx, builder) -> None:
    if builder.format == "html":
        (Path(app.outdir) / "_static").mkdir(parents=True, exist_ok=True)
        add_global_html_resources(app, None)
        copy_asset_files(app, None)


def setup(app: Sphinx) -> dict:
    app.connect("write-started", copy_early)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
