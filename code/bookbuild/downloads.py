"""Each chapter for download: its executed notebook (``.ipynb``, with every output) and its MyST
source (``.md``), from a menu in the page's header.

A Sphinx extension, for the HTML builders only (the PDF edition and other builders are left alone).
When the build finishes, each lesson's notebook is written next to its page
(``lessons/<name>.ipynb``) with the outputs of its execution, taken from MyST-NB's execution cache
(``bookbuild.sphinxext`` keeps it current). Not from ``jupyter_execute/``: MyST-NB 1.4 writes there
the notebook it read, without outputs, whenever the execution came from the cache. The source is
the copy Sphinx already keeps in ``_sources/``. The menu is one of the theme's header buttons (a
dropdown that the theme's own scripts open): no script of its own.
"""

from pathlib import Path

import nbformat
from sphinx.application import Sphinx
from sphinx.environment import BuildEnvironment
from sphinx.util import logging

from bookbuild.sphinxext import _cache, is_lesson

logger = logging.getLogger(__name__)


def _html(app: Sphinx) -> bool:
    return app.builder.format == "html"


def lessons(env: BuildEnvironment) -> list[str]:
    """The docnames of the lessons: MyST-NB notebooks in Markdown."""
    return [d for d in sorted(env.found_docs) if is_lesson(Path(env.doc2path(d)))]


def executed_notebook(app: Sphinx, docname: str) -> nbformat.NotebookNode | None:
    """The lesson ``docname`` as a notebook with the outputs of its cached execution, or None."""
    from myst_nb.core.read import read_myst_markdown_notebook

    path = Path(app.env.doc2path(docname))
    notebook = read_myst_markdown_notebook(path.read_text(encoding="utf-8"))
    try:
        _, executed = _cache(app).merge_match_into_notebook(notebook)
    except KeyError:  # not in the cache: it failed, or execution is off
        return None
    for i, cell in enumerate(executed.cells):  # reading gives random ids: two builds, one file
        cell["id"] = f"cell-{i}"
    return executed


def add_download_menu(app: Sphinx, pagename: str, templatename, context: dict, doctree) -> None:
    """On a lesson's page, a header menu with its executed notebook and its source."""
    if not _html(app) or doctree is None or pagename not in app.env.found_docs:
        return
    if not is_lesson(Path(app.env.doc2path(pagename))):
        return
    buttons = [
        {
            "type": "link",
            "url": context["pathto"](f"{pagename}.ipynb", 1),
            "text": "notebook (.ipynb)",
            "tooltip": "Download the chapter as a notebook, executed, with its outputs",
            "icon": "fas fa-code",
            "label": "download-notebook-button",
        }
    ]
    if context.get("sourcename") and app.config.html_copy_source:
        buttons.append(
            {
                "type": "link",
                "url": f"{context['pathto']('_sources', 1)}/{context['sourcename']}",
                "text": "source (.md)",
                "tooltip": "Download the chapter's source, a MyST Markdown notebook",
                "icon": "fas fa-file",
                "label": "download-source-button",
            }
        )
    context.setdefault("header_buttons", []).insert(
        0,
        {
            "type": "group",
            "tooltip": "Download this chapter",
            "icon": "fas fa-download",
            "buttons": buttons,
            "label": "download-buttons",
        },
    )


def write_notebooks(app: Sphinx, exception) -> None:
    """Write every lesson's executed notebook next to its page (only those that changed)."""
    if exception is not None or not _html(app):
        return
    for docname in lessons(app.env):
        notebook = executed_notebook(app, docname)
        if notebook is None:
            logger.warning(f"{docname}: no executed notebook in the cache", type="bookbuild")
            continue
        target = Path(app.outdir) / f"{docname}.ipynb"
        content = nbformat.writes(notebook).encode("utf-8")
        if not target.is_file() or target.read_bytes() != content:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(content)


def setup(app: Sphinx) -> dict:
    # after the theme has made its list of header buttons (priority 501)
    app.connect("html-page-context", add_download_menu, priority=510)
    app.connect("build-finished", write_notebooks)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
