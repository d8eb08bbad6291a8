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

To put its links into a page's code, it parses the page's whole HTML with BeautifulSoup and writes it
out again (about a second per chapter, a quarter of writing the book). ``link_html`` here does the
same on the highlighted blocks alone: Pygments writes each as ``<pre>`` inside a ``<div>`` whose
class names the language, so a regular expression finds them, and the rest of the page is left as
Sphinx wrote it. The links are the extension's own (its name patterns, its warnings).
"""

import html as html_lib
import json
import re
from pathlib import Path

from docutils import nodes
from sphinx.application import Sphinx
from sphinx_codeautolink import extension
from sphinx_codeautolink.extension.block import (
    BUILTIN_BLOCKS,
    CodeBlockAnalyser,
    CodeExample,
    Name,
    SourceTransform,
    construct_name_pattern,
)
from sphinx_codeautolink.extension.cache import DataCache
from sphinx_codeautolink.warn import logger, warn_type

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


DIV = re.compile(r'<div class="([^"]*)"')
PRE = re.compile(r"<pre[^>]*>(.*?)</pre>", re.DOTALL)  # a block's code: <pre> does not nest
LINENOS = re.compile(r'<span class="linenos">[^<]*</span>')
TAG = re.compile(r"<[^>]+>")
LINK = '<a href="{link}"{title} class="sphinx-codeautolink-a">{text}</a>'


def _text(markup: str) -> str:
    """What the reader sees of a piece of highlighted code."""
    return html_lib.unescape(TAG.sub("", markup))


def _linked(code: str, transform: SourceTransform, inventory: dict, prefix: str, titles: bool):
    """The HTML of one block's code with a link on each name ``transform`` resolved."""
    lines = code.split("\n")
    for name in transform.names:
        begin, end = name.lineno - 1, name.end_lineno - 1
        selection = "\n".join(lines[begin : end + 1])
        # from the right, so that in "a.b = a.b" the later name is linked first
        matches = list(re.finditer(construct_name_pattern(name), selection))[::-1]
        if not matches:
            logger.warning(
                f"Could not match transformation of `{name.code_str}` on source lines "
                f"{name.lineno}-{name.end_lineno}, source:\n{transform.source}",
                type=warn_type,
                subtype="match_name",
            )
            continue
        start, stop = matches[0].span()
        start += len(matches[0].group(1))
        location = inventory[name.resolved_location]
        if not location.startswith(("http://", "https://")):
            location = prefix + location
        text = selection[start:stop]
        shown = re.sub(r"\s+", "", _text(text))
        title = (
            ""
            if not titles or shown == name.resolved_location
            else f' title="{name.resolved_location}"'
        )
        link = LINK.format(link=location, title=title, text=text)
        lines[begin : end + 1] = (selection[:start] + link + selection[stop:]).split("\n")
    return "\n".join(lines)


def link_html(
    document: str,
    html: str,
    transforms: list[SourceTransform],
    inventory: dict,
    custom_blocks: dict,
    search_css_classes: list,
    builder_name: str = "html",
    *,
    disable_link_titles: bool,
) -> str:
    """sphinx-codeautolink's ``link_html`` (release 0.20.0) on the code blocks alone: the same
    links, found by the same patterns, without parsing and writing out the whole page."""
    if builder_name == "dirhtml" and Path(document).name != "index":
        depth = len(Path(document, "index.html").parents) - 1
    else:
        depth = len(Path(document + ".html").parents) - 1
    classes = {f"highlight-{t}" for t in BUILTIN_BLOCKS.keys() | custom_blocks.keys()}
    classes |= {"doctest", *search_css_classes}
    blocks = []  # the span of each code block's <pre> contents, in page order
    for div in DIV.finditer(html):
        if classes.isdisjoint(div.group(1).split()):
            continue
        pre = PRE.search(html, div.end())
        if pre is not None and (not blocks or blocks[-1] != pre.span(1)):
            blocks.append(pre.span(1))
    edits = []
    for transform in transforms:
        source = transform.source.rstrip()
        shown = (_text(LINENOS.sub("", html[start:stop])).rstrip() for start, stop in blocks)
        i = next((i for i, text in enumerate(shown) if text == source), None)
        if i is None:
            logger.warning(
                f"Could not match a code example to HTML, source:\n{transform.source}",
                type=warn_type,
                subtype="match_block",
                location=document,
            )
            continue
        start, stop = blocks.pop(i)
        code = _linked(
            html[start:stop], transform, inventory, "../" * depth, not disable_link_titles
        )
        edits.append((start, stop, code))
    out, at = [], 0
    for start, stop, code in sorted(edits):
        out += [html[at:start], code]
        at = stop
    return "".join([*out, html[at:]])


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
    extension.link_html = link_html  # the name its apply_links calls
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
