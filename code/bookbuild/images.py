"""Figures that do not shift the page as they load: every raster image gets its width and height
(so the browser reserves its box before the file arrives), and all but a page's first image load
lazily, when the reader scrolls near them, so a phone fetches only what it shows.

A Sphinx extension, listed in conf.py. book.css keeps the images fluid (``height: auto``), so the
attributes fix the aspect ratio, not the size on screen.
"""

from pathlib import Path

from docutils import nodes
from sphinx.application import Sphinx
from sphinx.util.images import get_image_size


def _local_file(app: Sphinx, node: nodes.image, docname: str) -> Path | None:
    uri = node.get("candidates", {}).get("*", node["uri"])
    if "://" in uri or uri.startswith("data:"):
        return None
    path = Path(uri)
    if not path.is_absolute():  # relative to the source folder (Sphinx resolved it so)
        path = Path(app.srcdir) / uri
    return path if path.is_file() else None


def size_and_defer(app: Sphinx, doctree: nodes.document, docname: str) -> None:
    if app.builder.format != "html":  # the PDF edition sizes its figures to the text width
        return
    for k, node in enumerate(doctree.findall(nodes.image)):
        path = _local_file(app, node, docname)
        size = get_image_size(path) if path is not None else None
        if size is not None and "width" not in node and "height" not in node:
            node["width"], node["height"] = str(size[0]), str(size[1])
        if k > 0:  # the first image may be the largest thing on screen: it loads at once
            node["loading"] = "lazy"


def setup(app: Sphinx) -> dict:
    app.connect("doctree-resolved", size_and_defer)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
