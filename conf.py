"""Sphinx configuration. The whole repository is the source: lessons/ and docs/ are pages."""

import os
from pathlib import Path

import gradflow
from bookbuild.sphinxext import lesson_budgets

# -- Project ------------------------------------------------------------------------------------
project = "Shortcut Connections"
author = "The gradflow authors"
copyright = "2026, The gradflow authors"
release = version = gradflow.__version__
root_doc = "docs/index"
numfig = True  # figures are numbered per chapter; {numref} refers to them by number

# -- Sources ------------------------------------------------------------------------------------
extensions = [
    "myst_nb",
    "bookbuild.sphinxext",  # re-executes a lesson exactly when something it depends on changed
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "bookbuild.mathml",  # math as MathML at build time: drawn by the browser, no JavaScript
    "bookbuild.images",  # figures with width and height (no layout shift), loaded lazily
    "bookbuild.pasted_figure",  # a lesson's figure on the landing page, with alt text and caption
    "bookbuild.icons",  # the theme's icon font cut down to the icons the pages show
    "sphinxcontrib.bibtex",
    "sphinx_copybutton",  # a copy button on every code block and code cell
    "sphinx_exercise",  # {exercise} and {solution}: exercises at the end of every chapter
    "bookbuild.static",  # ... whose stylesheet, like MyST-NB's, is in place before pages are written
    "sphinx_togglebutton",  # solutions with :class: dropdown stay folded until opened
    "sphinx_codeautolink",  # every gradflow name in a code cell links to its API entry
    "bookbuild.autolink",  # ... keeps its links when a page is written again, without its stylesheet
    "bookbuild.downloads",  # each chapter's executed notebook and MyST source, from its header
    "bookbuild.citation",  # the book's BibTeX from CITATION.cff (landing page, PDF)
    "bookbuild.reading_time",  # each chapter's reading and exercise times, from what it holds
    "bookbuild.claims",  # every claim the lessons guard, with its value and margin: _build/claims.json
    "sphinx_sitemap",  # sitemap.xml for search engines
    "bookbuild.unwritten",  # ... and the search index, whole when only some pages are written
    "bookbuild.opengraph",  # page descriptions (meta description, Open Graph), without matplotlib
]
include_patterns = ["docs/**", "lessons/**"]  # only these folders hold pages
exclude_patterns = [
    "_build",
    ".nox",
    ".ci",
    ".git",
    ".venv",
    "**/.ipynb_checkpoints",
    "code",
    "tests",
    "README.md",
    ".pytest_cache",
    ".ruff_cache",
    "*.egg-info",
]
templates_path = ["docs/_templates"]
suppress_warnings = ["mystnb.unknown_mime_type"]

# -- Lessons: executed through MyST-NB's cache, which bookbuild keeps in step with the package ----
nb_execution_mode = "cache"
nb_execution_cache_path = str(Path(__file__).parent / "_build" / ".jupyter_cache")
nb_execution_raise_on_error = True  # a cell that raises fails the build, traceback shown
nb_execution_show_tb = True
nb_execution_timeout = 600
nb_merge_streams = True
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence", "deflist"]
myst_heading_anchors = 3

# each lesson's execution budget (pyproject.toml, as the build engine reads it), which prices its
# exercises' runs (a test book built without pyproject.toml prices their thinking alone)
reading_time_execution_budgets = lesson_budgets(Path(__file__).parent)

# -- References ---------------------------------------------------------------------------------
bibtex_bibfiles = ["docs/references.bib"]
bibtex_default_style = "alpha_distinct"  # bookbuild.citation: He et al. [2016a], [2016b]
bibtex_reference_style = "author_year_distinct"

# -- API reference ------------------------------------------------------------------------------
autodoc_member_order = "bysource"
autodoc_typehints = "description"
# No intersphinx (the build has no network): references to torch, numpy, matplotlib and the
# standard library in signatures stay plain text instead of failing the nitpicky build.
nitpick_ignore_regex = [
    (r"py:.*", r"(torch|nn|np|numpy|plt|matplotlib|collections|typing|contextlib)(\..*)?"),
    (r"py:.*", r"(Module|Tensor|Parameter|Figure|Axes|Callable|Sequence|Iterator)"),
]

# -- Code linked to the API reference (sphinx-codeautolink) -------------------------------------
# A lesson's cells are one program: an import in one cell links the name in every later cell. The
# inventory is the book's own API reference; without intersphinx (no network) torch's and numpy's
# names have no entry and stay plain text, silently (both warnings are off, as by default).
# tests/test_learning_aids.py checks that gradflow's names do link.
codeautolink_concat_default = True
codeautolink_warn_on_missing_inventory = False
codeautolink_warn_on_failed_resolve = False


# -- HTML ---------------------------------------------------------------------------------------
html_theme = "sphinx_book_theme"
html_title = "Shortcut Connections"
html_static_path = ["docs/_static"]
html_css_files = ["book.css"]
html_js_files = [("book.js", {"defer": "defer"})]  # makes the sidebars' buttons work
html_favicon = "docs/_static/favicon.svg"
html_context = {
    "default_mode": "auto"
}  # light or dark as the reader's system says, no console error
html_additional_pages = {"index": "redirect.html"}  # _build/html/index.html opens the landing page
html_theme_options = {
    "show_toc_level": 2,
    "use_download_button": False,
    "use_fullscreen_button": False,
    "navigation_with_keys": False,
    # every page names the licences (docs/cite.md, LICENSE, LICENSE-text)
    "extra_footer": 'Text and figures: <a href="https://creativecommons.org/licenses/by/4.0/"'
    ' rel="license">CC BY 4.0</a>; code: MIT.',
}
html_last_updated_fmt = None
html_math_renderer = "mathml"  # bookbuild.mathml; the PDF edition typesets the LaTeX itself

# -- Hosting ------------------------------------------------------------------------------------
# Where the book is served, set in one place: BOOK_URL (the Pages workflow sets it), else Read the
# Docs' canonical URL, else the local server of `nox -s serve`.
book_url = os.environ.get("BOOK_URL") or os.environ.get("READTHEDOCS_CANONICAL_URL") or ""
html_baseurl = book_url or "http://127.0.0.1:8000/"  # a local build: the sitemap names the server
sitemap_url_scheme = "{link}"
ogp_site_url = html_baseurl
ogp_social_cards = {"enable": False}  # no generated preview images: they cost build time and bytes
ogp_enable_meta_description = True
# Copy the code of code blocks and code cells, never a cell's printed output
copybutton_selector = "div:not(.output) > div.highlight pre"
copybutton_exclude = ".linenos, .gp, .go"

# -- PDF edition (`nox -s pdf`): the LaTeX builder on the site's doctrees and executions ---------
# Figures: in a notebook, gradflow.plots.style hands out each figure as PNG and PDF; MyST-NB's default
# priorities give the site the PNG and LaTeX the PDF (vectors). Tables: gradflow.display.Table also
# offers a MyST table as Markdown, with its caption and name; "myst" lets that Markdown carry the
# table directive.
nb_render_markdown_format = "myst"
# The site takes that Markdown table too (before the HTML one), so that Sphinx numbers every table
nb_mime_priority_overrides = [("html", "text/markdown", 25)]
latex_engine = "xelatex"  # Unicode in prose and code (∂, ×, √, ≈) with Debian's FreeFont
# toctree_only=True: the landing page's toctrees, without its own text, give the chapters in order
latex_documents = [(root_doc, "shortcut-connections.tex", project, author, "manual", True)]
latex_domain_indices = False
latex_use_xindy = False  # no index is printed, so no xindy either
latex_show_urls = "footnote"
latex_elements = {
    "papersize": "a4paper",
    "pointsize": "10pt",
    "releasename": "Version",  # the title page reads "Version 0.1.0": the book's version
    "printindex": "",  # no general index: the PDF has a table of contents and the API chapter
    # the table of contents lists sections too, under its own name (not the first toctree's caption)
    "preamble": r"\setcounter{tocdepth}{1}\addto\captionsenglish{\renewcommand{\contentsname}{Contents}}",
    # code wraps at spaces and punctuation, and breaks a token only where nothing else fits: no
    # line runs off the page (bookbuild.pdf fails the build on one that does)
    "sphinxsetup": "verbatimforcewraps=true, verbatimmaxoverfull=0, verbatimmaxunderfull=100",
}

# -- Source repository: one setting (BOOK_REPOSITORY_URL) ---------------------------------------
# The book's repository, e.g. https://github.com/owner/name. When it is set, every page shows the
# theme's "Repository" and "Suggest edit" buttons (edits open on the branch main); when it is not
# set, neither appears, so a build never carries a dead link.
# The downloaded notebooks' first cell installs the package from it, at the commit being built, and
# on GitHub each chapter opens in Colab and Binder (bookbuild.downloads); without it, that cell says
# how to install it from a clone. (A local clone, file://..., serves the install alone.)
BOOK_REPOSITORY_URL = os.environ.get("BOOK_REPOSITORY_URL", "").strip().rstrip("/")
book_repository_url = BOOK_REPOSITORY_URL
if BOOK_REPOSITORY_URL.startswith(
    ("https://github.com/", "https://gitlab.com/", "https://bitbucket.org/")
):
    html_theme_options |= {
        "repository_url": BOOK_REPOSITORY_URL,
        "repository_branch": "main",
        "path_to_docs": "",  # conf.py sits at the root: page paths are repository paths
        "use_repository_button": True,
        "use_edit_page_button": True,
        "use_issues_button": True,  # "open an issue"
    }
    if (Path(__file__).parent / ".git").exists():
        # Each page's footer: "Last updated on" the author date of the last commit that changed the
        # page or a file it includes, in UTC, so that every rebuild of a commit says the same
        extensions.append("sphinx_last_updated_by_git")
        html_last_updated_fmt = "%d %B %Y"
        git_last_updated_timezone = "UTC"
