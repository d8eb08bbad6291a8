"""A lesson as a notebook that reads like its page: its Markdown cells are the page's text, written
from the doctree Sphinx resolved for the page, not copied from the MyST source.

So the notebook holds what the reader saw: glued numbers written in, each ``literalinclude`` as the
code it shows, terms, citations and cross-references as their text (links to the hosted book where
its address is set), admonitions and exercises as quotes, and solutions folded in ``<details>``.
The conversion is sphinx-markdown-builder's ``MarkdownTranslator``, taught here the few nodes the
lessons use that it does not know. Code cells, hidden ones included, are the executed notebook's:
where a page shows a code cell, the Markdown is cut and the cell goes in; a cell the page hides
(``remove-cell``: the lessons' claims) goes in before the first text that follows it in the source.
"""

import re
from posixpath import dirname, join, normpath
from urllib.parse import urljoin

import nbformat
from docutils import nodes
from sphinx_markdown_builder.contexts import IndentContext, SubContext, SubContextParams
from sphinx_markdown_builder.escape import escape_markdown_chars
from sphinx_markdown_builder.translator import MarkdownTranslator

CELL = "<!--bookbuild-cell:{}-->"  # where a code cell goes; never in a lesson's text
CELL_LINE = re.compile(r"^(?:> ?)*<!--bookbuild-cell:(\d+)-->\s*$", re.MULTILINE)
LANGUAGES = {"default": "python", "ipython3": "python", "python3": "python", "none": ""}
ADMONITIONS = ("note", "tip", "hint", "important", "warning", "caution", "attention", "danger")


class NotebookTranslator(MarkdownTranslator):
    """sphinx-markdown-builder's translator, for one lesson's doctree in a notebook.

    ``page``: the page's path in the site (``lessons/x.html``); ``book_url``: the book's address, or
    "" (then references are plain text); ``hidden``: the source line of each hidden code cell, by
    cell index."""

    def __init__(self, document, builder, page: str, book_url: str, hidden: dict[int, int]):
        super().__init__(document, builder)
        self.page, self.book_url = page, book_url
        self.docname = page.rsplit(".", 1)[0]
        self.pending = sorted(hidden.items(), key=lambda item: item[1])
        self.source = document.get("source")

    # -- cells ----------------------------------------------------------------------------------
    def cell(self, index: int) -> None:
        self.add(CELL.format(index), prefix_eol=2, suffix_eol=2)

    def dispatch_visit(self, node):
        # a hidden cell goes before the first node that starts after it in the lesson's source
        line = getattr(node, "line", None)
        if self.pending and isinstance(node, nodes.Element) and line:
            if node.source in (None, self.source):
                while self.pending and self.pending[0][1] < line:
                    self.cell(self.pending.pop(0)[0])
        return super().dispatch_visit(node)

    def astext(self):
        while self.pending:
            self.cell(self.pending.pop(0)[0])
        return super().astext()

    def visit_container(self, node):
        if node.get("nb_element") == "cell_code":
            self.cell(node["cell_index"])
            for figure in node.findall(nodes.figure):  # its output's caption, as on the page
                self.figure_caption(figure)
            raise nodes.SkipNode

    def figure_caption(self, figure) -> None:
        numbers = self.builder.env.toc_fignumbers.get(self.docname, {})
        number = ".".join(map(str, numbers.get("figure", {}).get(figure["ids"][0], ())))
        for caption in figure.findall(nodes.caption):
            self._push_context(SubContext(SubContextParams(2, 2)))
            self.add(f"**Fig. {number}** " if number else "")
            for child in caption.children:
                child.walkabout(self)
            self._pop_context()

    # -- text: what Jupyter's Markdown would misread --------------------------------------------
    def visit_Text(self, node):
        if not self.status.escape_text:
            return super().visit_Text(node)
        text = escape_markdown_chars(node.astext().replace("\r", "")).replace("$", r"\$")
        self.add(re.sub(r"<(?=[A-Za-z/!])", "&lt;", text))

    # -- references: plain text, or links into the hosted book ----------------------------------
    def url(self, node) -> str:
        if not node.get("internal") and node.get("refuri"):
            return node["refuri"]  # an external link stays as it is
        if not self.book_url:
            return ""
        page = urljoin(self.book_url, self.page)
        if "refuri" in node:
            return urljoin(page, node["refuri"])
        return f"{page}#{node['refid']}" if node.get("refid") else ""

    def visit_reference(self, node):
        url = self.url(node)
        if url:
            self._push_context(LinkContext(url))
        else:
            self._push_context(SubContext())

    def depart_reference(self, node):
        self._pop_context()

    def visit_target(self, node):
        pass  # anchors lead nowhere in a notebook

    def visit_image(self, node):
        uri, alt = node["uri"], node.get("alt", "figure")
        if self.book_url and "://" not in uri:
            uri = urljoin(self.book_url, normpath(join(dirname(self.page), uri)))
        self.add(f"![{alt}]({uri})" if "://" in uri else f"*[{alt}]*")

    def visit_raw(self, node):
        if "html" in node.get("format", "").split():
            self.add(node.astext())
        raise nodes.SkipNode

    def visit_comment(self, node):
        raise nodes.SkipNode

    # -- code: the code a literalinclude shows, in its language ---------------------------------
    def visit_literal_block(self, node):
        self._push_status(escape_text=False, preserve_line_breaks=True)
        language = node.get("language", "")
        self.add(f"```{LANGUAGES.get(language, language)}", prefix_eol=1, suffix_eol=1)

    def visit_caption(self, node):
        self._push_context(SubContext(SubContextParams(2, 1)))
        self.add("*")

    def depart_caption(self, node):
        self.add("*")
        self._pop_context()

    # -- admonitions and exercises: quotes with a bold title; solutions folded ------------------
    def quote(self, title: str) -> None:
        self._push_context(IndentContext("> ", empty=True, params=SubContextParams(2, 2)))
        if title:
            self.add(f"**{title}**", suffix_eol=2)

    def unquote(self, node=None):
        self._pop_context()

    def visit_admonition(self, node):
        self.quote("")  # its title node follows

    depart_admonition = unquote

    def visit_exercise_enumerable_node(self, node):
        title = node.children[0]
        if isinstance(node, nodes.Element) and title.get("title"):  # numbered: "Exercise %s"
            numbers = self.builder.env.toc_fignumbers.get(node.get("docname", ""), {})
            number = ".".join(map(str, numbers.get("exercise", {}).get(node["ids"][0], ())))
            self.quote(title["title"] % number + title.astext())
        else:
            self.quote(title.astext())

    visit_exercise_node = visit_exercise_enumerable_node
    depart_exercise_enumerable_node = depart_exercise_node = unquote

    def visit_solution_node(self, node):
        self._push_context(SubContext(SubContextParams(2, 2)))
        summary = " ".join(node.children[0].astext().split())
        self.add(f"<details>\n<summary>{summary}</summary>", suffix_eol=2)

    def depart_solution_node(self, node):
        self.add("</details>", prefix_eol=2)
        self._pop_context()

    def visit_title(self, node):
        parent = node.parent
        if isinstance(parent, (nodes.Admonition, nodes.admonition)) and not _exercise(parent):
            self._push_context(SubContext(SubContextParams(0, 2)))
            self.add("**")
            return
        if _exercise(parent):
            raise nodes.SkipNode  # written by the exercise or solution itself
        super().visit_title(node)

    def depart_title(self, node):
        if isinstance(node.parent, (nodes.Admonition, nodes.admonition)):
            self.add("**")
        self._pop_context()


def _titled_quote(title: str):
    def visit(self, node):
        self.quote(title)

    return visit


for _name in ADMONITIONS:  # the named admonitions (note, tip, ...): a quote titled by their name
    setattr(NotebookTranslator, f"visit_{_name}", _titled_quote(_name.capitalize()))
    setattr(NotebookTranslator, f"depart_{_name}", NotebookTranslator.unquote)


def _exercise(node) -> bool:
    return type(node).__name__ in ("exercise_node", "exercise_enumerable_node", "solution_node")


class LinkContext(SubContext):
    """``[text](url)``."""

    def __init__(self, url: str):
        super().__init__()
        self.url = url

    def make(self):
        text = super().make()
        return f"[{text}]({self.url})" if text.strip() else text


def markdown(document, builder, page: str, book_url: str, hidden: dict[int, int]) -> str:
    """The page's doctree as Markdown, with a marker line where each code cell goes."""
    translator = NotebookTranslator(document, builder, page, book_url, hidden)
    document.walkabout(translator)
    return translator.astext()


def split_cells(text: str) -> list[str | int]:
    """Markdown with cell markers as a list of Markdown texts (stripped, none empty) and cell
    indices. A ``<details>`` that a code cell cuts is closed before it and opened again after it."""
    parts: list[str | int] = []
    opened: list[str] = []  # the summaries of the <details> open at this point
    pieces = CELL_LINE.split(text)
    for i, piece in enumerate(pieces):
        if i % 2:
            parts.append(int(piece))
            continue
        reopen = "".join(f"<details>\n<summary>{s} (continued)</summary>\n\n" for s in opened)
        for tag in re.finditer(r"<summary>(.*?)</summary>|</details>", piece):
            if tag[0] == "</details>":
                opened.pop() if opened else None
            else:
                opened.append(tag[1])
        body = piece.strip()
        if body:
            parts.append((reopen + body + "\n\n</details>" * len(opened)).strip())
    return parts


def reader_notebook(
    executed: nbformat.NotebookNode, text: str, first_cells: list[nbformat.NotebookNode]
) -> nbformat.NotebookNode:
    """The notebook of the page: ``first_cells``, then the page's Markdown (``text``, with cell
    markers) cut into Markdown cells around the executed notebook's code cells."""
    notebook = nbformat.v4.new_notebook(metadata=executed.metadata)
    notebook.metadata.pop("source_map", None)
    notebook.cells = list(first_cells)
    for part in split_cells(text):
        if isinstance(part, int):
            cell = executed.cells[part]
            for output in cell.get("outputs", []):  # a table's MyST form is for Sphinx alone
                data = output.get("data", {})
                if "text/html" in data and "```{" in data.get("text/markdown", ""):
                    del data["text/markdown"]
            if "remove-cell" in cell.metadata.get("tags", []):  # folded, as the page hides it
                cell.metadata.setdefault("jupyter", {})["source_hidden"] = True
            notebook.cells.append(cell)
        else:
            notebook.cells.append(nbformat.v4.new_markdown_cell(part))
    for i, cell in enumerate(notebook.cells):  # stable ids: two builds, one file
        cell["id"] = f"cell-{i}"
    return notebook
