"""A figure glued in a lesson, shown on another page with its own alt text and caption.

MyST-NB pastes text from another page (``{glue:text}`path::key```) but offers figures from another
page only without alt text or caption. The landing page shows one figure of a lesson this way::

    ```{pasted-figure} ../lessons/shortcut_connections.md::sc_summary_figure
    ---
    alt: What the figure shows, for readers who cannot see it.
    name: fig-book-summary
    ---
    The caption.
    ```

The lesson glues the figure (``glue(key, fig, display=False)``). The page is read before the lessons
execute, so the image is filled in when the page is written, from the glue data MyST-NB keeps beside
the executed notebooks; ``bookbuild.sphinxext`` reads the page again whenever that lesson executes
again, so it never shows a stale figure. HTML builders only: elsewhere the figure is left out.
"""

import hashlib
import json
import os
from binascii import a2b_base64
from pathlib import Path

from docutils import nodes
from docutils.parsers.rst import directives
from sphinx.application import Sphinx
from sphinx.transforms.post_transforms import SphinxPostTransform
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective
from sphinx.util.images import get_image_size

logger = logging.getLogger(__name__)


class pending_figure(nodes.General, nodes.Element):
    """Where the pasted image goes once the lesson's glue data exist."""


class PastedFigure(SphinxDirective):
    """``{pasted-figure} <lesson path>::<key>`` with ``:alt:``, ``:name:`` and a caption."""

    required_arguments = 1
    has_content = True
    option_spec = {"alt": directives.unchanged_required, "name": directives.unchanged}

    def run(self) -> list[nodes.Node]:
        path, sep, key = self.arguments[0].partition("::")
        if not sep or not key or not path.endswith(".md"):
            raise self.error("the argument must read <lesson>.md::<key>")
        if not self.options.get("alt"):
            raise self.error("a pasted figure needs :alt: text")
        docname = self.env.relfn2path(path, self.env.docname)[0]
        docname = os.path.splitext(os.path.relpath(docname, self.env.srcdir))[0]
        figure = nodes.figure()
        self.add_name(figure)
        figure += pending_figure(refdoc=docname.replace(os.sep, "/"), key=key,
                                 alt=self.options["alt"])  # fmt: skip
        text = "\n".join(self.content)
        inline, messages = self.state.inline_text(text, self.lineno)
        figure += nodes.caption(text, "", *inline)
        return [figure, *messages]


class FillPastedFigures(SphinxPostTransform):
    """Replace each pending figure by the glued PNG, written into the site's image folder."""

    default_priority = 6  # after MyST-NB's own pasting (5)

    def run(self, **kwargs) -> None:
        folder = Path(self.env.mystnb_config.output_folder)
        for node in list(self.document.findall(pending_figure)):
            if self.app.builder.format != "html":  # the PDF edition prints the lesson's own figure
                node.parent.parent.remove(node.parent)
                continue
            glued = folder / f"{node['refdoc']}.glue.json"
            data = json.loads(glued.read_text()) if glued.is_file() else {}
            png = data.get(node["key"], {}).get("data", {}).get("image/png")
            if png is None:
                logger.warning(f"no figure glued as {node['key']!r} in {node['refdoc']}",
                               location=node, type="bookbuild")  # fmt: skip
                node.parent.remove(node)
                continue
            image = a2b_base64(png)
            target = Path(self.app.builder.outdir) / self.app.builder.imagedir
            target /= hashlib.sha256(image).hexdigest() + ".png"
            target.parent.mkdir(parents=True, exist_ok=True)
            if not target.is_file():
                target.write_bytes(image)
            page = (Path(self.app.builder.outdir) / self.env.docname).parent
            uri = os.path.relpath(target, page).replace(os.sep, "/")
            width, height = get_image_size(target)  # as bookbuild.images sizes the others
            node.replace_self(nodes.image(uri=uri, candidates={"*": uri}, alt=node["alt"],
                                          width=str(width), height=str(height)))  # fmt: skip


def setup(app: Sphinx) -> dict:
    app.add_node(pending_figure)
    app.add_directive("pasted-figure", PastedFigure)
    app.add_post_transform(FillPastedFigures)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
