"""sphinx-codeautolink for a book written in Markdown.

sphinx-codeautolink keeps what it learnt of each page's code in the doctrees between builds, and
when it reads that back it drops every page whose source is not ``<page>.rst``
(``sphinx_codeautolink/extension/cache.py``, release 0.20.0). A lesson is ``<page>.md``, so a page
written again without being read again (a changed chapter title rewrites every page's navigation)
lost the links in its code. This extension lets the cache keep every page whose source exists,
whatever its suffix. Listed in conf.py after ``sphinx_codeautolink``; tested in
tests/test_learning_aids.py.

It resolves the names in every page's code (importing the modules they come from: torch,
scikit-learn and the book's package, seconds of a build) as soon as the pages are read, even when
no page was read and none will be written. Here the same resolution runs when the first page is
written instead, so a build that changed nothing does not pay for it.

Its four CSS rules for the links live in book.css, so its own stylesheet is dropped: one request fewer
to block the first paint.

Its block analyser also keeps a stack of section titles, but pushes the title of every table and
admonition too and pops one at the end of every section: with the exercises' solution blocks the
pops outrun the pushes and the build stops with "pop from empty list". Here only a section's own
title is pushed, and only a section that has one pops it.
"""

import json
from pathlib import Path

from docutils import nodes
from sphinx.application import Sphinx
from sphinx_codeautolink import extension
from sphinx_codeautolink.extension.block import (
    CodeBlockAnalyser,
    CodeExample,
    Name,
    SourceTransform,
)
from sphinx_codeautolink.extension.cache import DataCache

from bookbuild import take_listener

SUFFIXES = (".rst", ".md", ".ipynb")  # the sources this book's Sphinx reads


class AnySuffixDataCache(DataCache):
    """sphinx-codeautolink's cache, reading back the pages of any source suffix."""

    def read(self) -> None:
        cache = self.cache_dir / self.cache_filename
        if not cache.exists():
            return
        for page, transforms in json.loads(cache.read_text("utf-8")).items():
            if not any(Path(self.src_dir, page + suffix).exists() for suffix in SUFFIXES):
                continue  # the page is gone
            for transform in transforms:
                transform["example"] = CodeExample(**transform["example"])
                transform["names"] = [Name(**n) for n in transform["names"]]
            self.transforms[page] = [SourceTransform(**t) for t in transforms]


_visit_title = CodeBlockAnalyser.visit_title


def _has_title(section: nodes.Node) -> bool:
    return bool(section.children) and isinstance(section.children[0], nodes.title)


def visit_title(self, node: nodes.title) -> None:
    """Track the titles of sections only (not those of tables or admonitions)."""
    if isinstance(node.parent, nodes.section):
        _visit_title(self, node)


def depart_section(self, node: nodes.section) -> None:
    """Forget the title of a section that has one."""
    if _has_title(node) and self.title_stack:
        self.title_stack.pop()


def defer_references(app: Sphinx) -> None:
    """Move sphinx-codeautolink's resolution of names from ``env-updated`` to just before the
    first document is resolved for writing (``doctree-resolved``) or the first page with code is
    written (``html-page-context``; the index and search pages, written by every build, have none)."""
    taken = take_listener(app, "env-updated", extension.SphinxCodeAutoLink.create_references)
    if taken is None:
        return
    (state, _), pending = taken, []

    def updated(app: Sphinx, env) -> None:
        pending[:] = [env]  # resolve before this build's first page, with the env as it is now

    def resolve(app: Sphinx, *args) -> None:
        if pending:
            state.create_references(app, pending.pop())

    def page(app: Sphinx, pagename: str, *args) -> None:
        if state.cache and state.cache.transforms.get(pagename):
            resolve(app)

    app.connect("env-updated", updated)
    app.connect("doctree-resolved", resolve, priority=499)  # before the extension's own handlers
    app.connect("html-page-context", page, priority=499)


def setup(app: Sphinx) -> dict:
    extension.DataCache = AnySuffixDataCache  # the name the extension builds its cache with
    CodeBlockAnalyser.visit_title = visit_title
    CodeBlockAnalyser.depart_section = depart_section
    defer_references(app)
    # registered by sphinx_codeautolink's setup, which conf.py lists before this extension
    app.registry.css_files = [
        (name, attributes)
        for name, attributes in app.registry.css_files
        if name != "sphinx-codeautolink.css"
    ]
    return {"parallel_read_safe": True, "parallel_write_safe": True}
