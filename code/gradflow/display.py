"""What the lessons hand to the page: tables of results that render as real tables (HTML on the
site, a Markdown table typeset by LaTeX in the PDF edition, text elsewhere), and ``glue``, which
passes a measured number to the text."""

import re
from collections.abc import Callable, Sequence
from html import escape

MARKDOWN_SPECIAL = re.compile(r"([!-/:-@\[-`{-~])")  # ASCII punctuation, escaped in Markdown
LABEL = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]*")  # a table's name, as {numref} refers to it


def glue(name: str, value, display: bool = True) -> None:
    """Hand ``value`` to the book's text under ``name`` (MyST-NB's ``glue``).

    Without MyST-NB, as in a downloaded notebook, nothing is glued: the value is shown if
    ``display`` is true, so a copied cell runs with ``gradflow`` alone.
    """
    if not isinstance(name, str) or not name:
        raise TypeError(f"name must be a non-empty str, got {name!r}")
    try:
        from myst_nb import glue as myst_glue
    except ImportError:
        if display:
            try:
                from IPython.display import display as show
            except ImportError:
                print(f"{name} = {value!r}")
            else:
                show(value)
        return
    myst_glue(name, value, display=display)


class Table:
    """A small table of results: a notebook cell that ends with one shows an HTML ``<table>``.

    In the book (site and PDF) a table with a caption is numbered, "Table 2.1", and ``{numref}``
    refers to it by ``name``, which defaults to ``tab-`` and the caption's words.
    """

    def __init__(
        self,
        columns: Sequence[str],
        rows: Sequence[Sequence],
        caption: str = "",
        formats: Sequence[str | Callable | None] | None = None,
        name: str = "",
    ):
        columns = list(columns)
        rows = [list(r) for r in rows]
        if not columns:
            raise ValueError("a table needs at least one column")
        for i, row in enumerate(rows):
            if len(row) != len(columns):
                raise ValueError(
                    f"row {i} has {len(row)} cells but the table has {len(columns)} columns"
                )
        formats = list(formats) if formats is not None else [None] * len(columns)
        if len(formats) != len(columns):
            raise ValueError(f"formats needs {len(columns)} entries (one per column)")
        if not isinstance(name, str) or (name and not LABEL.fullmatch(name)):
            raise ValueError(f"name must be a label of letters, digits and hyphens, got {name!r}")
        if name and not caption:
            raise ValueError("a table needs a caption to be numbered and referred to by name")
        self.columns, self.rows, self.caption, self.formats = columns, rows, caption, formats
        self.name = name or ("tab-" + "-".join(re.findall(r"[a-z0-9]+", caption.lower())))

    def _cell(self, value, fmt) -> str:
        if fmt is None:
            return str(value)
        if callable(fmt):
            return fmt(value)
        return format(value, fmt)

    def formatted_rows(self) -> list[list[str]]:
        """The cells as the reader sees them, formatted column by column."""
        return [[self._cell(v, f) for v, f in zip(r, self.formats, strict=True)] for r in self.rows]

    def _repr_html_(self) -> str:
        # class "dataframe": the book's theme then colours the table for light and dark mode alike
        head = "".join(f'<th scope="col">{escape(c)}</th>' for c in self.columns)
        body = "".join(
            "<tr>" + "".join(f"<td>{escape(c)}</td>" for c in row) + "</tr>"
            for row in self.formatted_rows()
        )
        caption = f"<caption>{escape(self.caption)}</caption>" if self.caption else ""
        return (
            f'<table class="gradflow-table dataframe">{caption}<thead><tr>{head}</tr></thead>'
            f"<tbody>{body}</tbody></table>"
        )

    def _repr_markdown_(self) -> str:
        # a MyST table directive, which the book prefers to the HTML above (conf.py): with its caption
        # and name, Sphinx numbers the table on the site and in the PDF
        def cell(text: str) -> str:
            return MARKDOWN_SPECIAL.sub(r"\\\1", text)

        lines = [f"```{{table}} {cell(self.caption)}".rstrip()]
        if self.caption:
            lines.append(f":name: {self.name}")
        lines += [":class: gradflow-table", ""]
        lines.append("| " + " | ".join(cell(c) for c in self.columns) + " |")
        lines.append("|" + "---|" * len(self.columns))
        lines += ["| " + " | ".join(cell(c) for c in row) + " |" for row in self.formatted_rows()]
        return "\n".join([*lines, "```"])

    def __repr__(self) -> str:
        cells = [self.columns, *self.formatted_rows()]
        widths = [max(len(r[j]) for r in cells) for j in range(len(self.columns))]
        lines = ["  ".join(c.rjust(w) for c, w in zip(r, widths, strict=True)) for r in cells]
        return "\n".join(([self.caption] if self.caption else []) + lines)
