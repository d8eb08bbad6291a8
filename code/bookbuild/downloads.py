"""Each chapter for download: its executed notebook (``.ipynb``, with every output) and its MyST
source (``.md``), from a menu in the page's header.

A Sphinx extension, for the HTML builders only (the PDF edition and other builders are left alone).
When a lesson's page is written, its notebook is written next to it (``lessons/<name>.ipynb``):
the code cells with the outputs of their execution, taken from MyST-NB's execution cache
(``bookbuild.sphinxext`` keeps it current; not from ``jupyter_execute/``, where MyST-NB 1.4 writes
the notebook it read, without outputs, whenever the execution came from the cache), and Markdown
cells that read like the page (``bookbuild.notebook``). Its first cell installs the book's package:
from the repository at the commit that built the page where ``book_repository_url`` is set, else it
says how to install it from a clone. The source is the copy Sphinx already keeps in ``_sources/``.
The menu is one of the theme's header buttons (a dropdown that the theme's own scripts open): no
script of its own.

Settings (conf.py): ``book_url``, the book's address ("" for a local build: references stay plain
text); ``book_repository_url``; ``book_commit``, the commit the install line names (by default
``GITHUB_SHA``, ``READTHEDOCS_GIT_COMMIT_HASH`` or git's ``HEAD``, where the repository is set).
"""

import os
import subprocess
from pathlib import Path

import nbformat
from docutils import nodes
from sphinx.application import Sphinx
from sphinx.environment import BuildEnvironment
from sphinx.util import logging

from bookbuild import DISTRIBUTION
from bookbuild.notebook import markdown, reader_notebook
from bookbuild.sphinxext import _cache, is_lesson, lesson

logger = logging.getLogger(__name__)


def _html(app: Sphinx) -> bool:
    return app.builder.format == "html"


def lessons(env: BuildEnvironment) -> list[str]:
    """The docnames of the lessons: MyST-NB notebooks in Markdown."""
    return [d for d in sorted(env.found_docs) if is_lesson(Path(env.doc2path(d)))]


def executed_notebook(app: Sphinx, docname: str) -> nbformat.NotebookNode | None:
    """The lesson ``docname`` as a notebook with the outputs of its cached execution, or None."""
    notebook = lesson(app, Path(app.env.doc2path(docname)))
    source_map = notebook.metadata.pop("source_map")  # the first line of each cell in the source
    try:
        _, executed = _cache(app).merge_match_into_notebook(notebook)
    except KeyError:  # not in the cache: it failed, or execution is off
        return None
    for i, (cell, line) in enumerate(zip(executed.cells, source_map, strict=True)):
        cell["id"] = f"cell-{i}"  # reading gives random ids: two builds, one file
        cell.metadata["bookbuild_line"] = line  # where hidden cells go; removed when written
    return executed


def install_cell(app: Sphinx) -> nbformat.NotebookNode:
    """The notebook's first cell: installs the book's package in one line, from the repository at
    the commit that built the page; without a repository setting, says how to install it."""
    repository, commit = app.config.book_repository_url, app.config.book_commit
    if repository:
        ref = f"@{commit}" if commit else ""
        source = (
            f"# The book's package, gradflow, from the commit that built this chapter ({DISTRIBUTION!r}\n"
            "# is its distribution's name; the 'gradflow' on PyPI is another project)\n"
            f'%pip install --quiet "{DISTRIBUTION} @ git+{repository}{ref}"'
        )
    else:
        source = (
            "# This chapter imports the book's package, gradflow. Install it once, from a clone of the\n"
            "# book's repository, with the command below run in the clone's folder (its distribution\n"
            f"# is {DISTRIBUTION!r}; the 'gradflow' on PyPI is another project):\n"
            "#   python -m pip install -e ."
        )
    return nbformat.v4.new_code_cell(source, metadata={"tags": ["install"]})


NOTEBOOKS_BRANCH = "notebooks"  # the Pages workflow publishes the executed notebooks there


def launch_links(repository: str, docname: str) -> dict[str, str]:
    """Colab's and Binder's links to the chapter's executed notebook on the repository's notebooks
    branch; none unless the repository is on GitHub (the only host both open by address)."""
    prefix = "https://github.com/"
    if not repository.startswith(prefix):
        return {}
    slug = repository.removeprefix(prefix).removesuffix(".git")
    path = f"{docname}.ipynb"
    return {
        "Colab": f"https://colab.research.google.com/github/{slug}/blob/{NOTEBOOKS_BRANCH}/{path}",
        "Binder": f"https://mybinder.org/v2/gh/{slug}/{NOTEBOOKS_BRANCH}?labpath={path}",
    }


def write_notebook(app: Sphinx, doctree, docname: str) -> None:
    """Write the lesson's notebook next to its page, from the page's resolved doctree (only if it
    changed)."""
    if not _html(app) or not is_lesson(Path(app.env.doc2path(docname))):
        return
    executed = executed_notebook(app, docname)
    if executed is None:
        logger.warning(f"{docname}: no executed notebook in the cache", type="bookbuild")
        return
    shown = {n["cell_index"] for n in doctree.findall(nodes.container) if "cell_index" in n}
    lines = {i: c.metadata.pop("bookbuild_line") for i, c in enumerate(executed.cells)}
    hidden = {i: lines[i] for i, c in enumerate(executed.cells) if c.cell_type == "code"}
    hidden = {i: line for i, line in hidden.items() if i not in shown}
    page = app.builder.get_target_uri(docname)
    text = markdown(doctree, app.builder, page, app.config.book_url, hidden)
    notebook = reader_notebook(executed, text, [install_cell(app)])
    target = Path(app.outdir) / f"{docname}.ipynb"
    content = nbformat.writes(notebook).encode("utf-8")
    if not target.is_file() or target.read_bytes() != content:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)


def git_commit(srcdir: str) -> str:
    """The commit being built: the CI's variable, else git's HEAD, else ""."""
    for name in ("GITHUB_SHA", "READTHEDOCS_GIT_COMMIT_HASH"):
        if os.environ.get(name):
            return os.environ[name]
    try:
        cmd = ["git", "rev-parse", "HEAD"]
        return subprocess.run(cmd, cwd=srcdir, capture_output=True, text=True).stdout.strip()
    except OSError:  # no git
        return ""


def commit_setting(app: Sphinx, config) -> None:
    """Where the repository is set and the commit is not, the commit being built."""
    config.book_repository_url = config.book_repository_url.strip().rstrip("/")
    if config.book_repository_url and not config.book_commit:
        config.book_commit = git_commit(app.srcdir)


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
    launch = launch_links(app.config.book_repository_url, pagename)
    if launch:
        context.setdefault("header_buttons", []).insert(
            0,
            {
                "type": "group",
                "tooltip": "Run this chapter online",
                "icon": "fas fa-rocket",
                "buttons": [
                    {
                        "type": "link",
                        "url": url,
                        "text": text,
                        "tooltip": f"Open the chapter's notebook in {text}",
                        "icon": "fas fa-play",
                        "label": f"launch-{text.lower()}-button",
                    }
                    for text, url in launch.items()
                ],
                "label": "launch-buttons",
            },
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


def setup(app: Sphinx) -> dict:
    app.setup_extension("sphinx_markdown_builder")  # its translator writes the notebook's Markdown
    app.add_config_value("book_url", "", "html", str)
    app.add_config_value("book_repository_url", "", "html", str)
    app.add_config_value("book_commit", "", "html", str)
    app.connect("config-inited", commit_setting)
    # after the theme has made its list of header buttons (priority 501)
    app.connect("html-page-context", add_download_menu, priority=510)
    app.connect("doctree-resolved", write_notebook)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
