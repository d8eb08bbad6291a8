"""Reading times estimated from what a page holds, computed when the book is built.

A student does not read a chapter of this book at 200 words a minute: its equations, figures, tables
and code take longer than their words. ``page_content`` counts, on a page's doctree, what the reader
reads; ``reading_minutes`` prices each item at the cost in ``COSTS`` (one place, stated below), and
``exercise_minutes`` gives the time to do the exercises separately: each exercise's predicting and
editing, and the execution of its solution's cells, budgeted as that share of the chapter's
execution budget (pyproject.toml ``[tool.book] lesson-budgets``, which conf.py reads with
``bookbuild.sphinxext.lesson_budgets``).

Two roles show the numbers: ``{reading-time}`../lessons/x``` gives "about 45 minutes" and
``{exercise-time}`../lessons/x``` "about 15 minutes" (the target relative to the page, as in
``{doc}``; an empty target is the page itself). The counts are taken as each page is read, kept in
the build environment (merged from parallel readers, dropped with the page), and the roles are
filled in when their page is written. Whenever a page is read again (an edited lesson, or one that
bookbuild.sphinxext executes again) or the costs below change, every page that shows a time is
written again, so no number is ever stale.
"""

import math
import re
from dataclasses import asdict, dataclass, fields

from docutils import nodes
from sphinx.application import Sphinx
from sphinx.environment import BuildEnvironment
from sphinx.transforms.post_transforms import SphinxPostTransform
from sphinx.util import logging
from sphinx.util.docutils import SphinxRole

logger = logging.getLogger(__name__)

# What a student needs for each item, in minutes. Calibrated on the book's six chapters against a
# student's reading of them (issue 23: about 45/35/50/50/55/35 minutes, where 200 words a minute
# gave 25/20/30/30/30/25): on the lessons of December 2026 these costs give 40/30/45/50/60/35, each
# within 5 minutes. The student's times leave little for code, which a reader glances along while
# the prose says what it does.
COSTS = {
    "words": 1 / 200,  # prose, captions and titles, at 200 words a minute
    "inline_math": 0.05,  # a symbol or short formula in a sentence: 3 seconds
    "equations": 1.0,  # a displayed equation, worked through
    "figures": 2.5,  # a figure (most have two or three panels) or an explorer, with its caption
    "tables": 0.25,  # a table's caption and columns: 15 seconds ...
    "table_rows": 0.02,  # ... and about a second for each of its rows
    "code_lines": 0.01,  # a line of code shown (cells and listings), glanced along: 0.6 s
    "output_lines": 0.01,  # a line a cell prints
}
EXERCISE_MINUTES = 5.0  # to read an exercise, predict, edit the code and compare (execution aside)
WORD = re.compile(r"\w+(?:[-'’]\w+)*")


@dataclass(frozen=True)
class PageContent:
    """What a reader reads on a page (exercises and their solutions apart)."""

    words: int = 0
    inline_math: int = 0
    equations: int = 0
    figures: int = 0
    tables: int = 0
    table_rows: int = 0
    code_lines: int = 0
    output_lines: int = 0
    exercises: int = 0  # exercises of the page
    exercise_cells: int = 0  # code cells in the exercises and their solutions
    cells: int = 0  # code cells of the whole page

    def __post_init__(self):
        for f in fields(self):
            value = getattr(self, f.name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ValueError(f"{f.name} must be a count (an int >= 0), got {value!r}")


def reading_minutes(content: PageContent) -> float:
    """Minutes to read ``content`` once: each item at its cost in ``COSTS``."""
    return sum(getattr(content, item) * cost for item, cost in COSTS.items())


def exercise_minutes(content: PageContent, execution_seconds: float = 0.0) -> float:
    """Minutes to do the page's exercises: ``EXERCISE_MINUTES`` each, and the execution of their
    cells, as their share of the page's ``execution_seconds``."""
    if not execution_seconds >= 0 or not math.isfinite(execution_seconds):
        raise ValueError(f"execution_seconds must be a number >= 0, got {execution_seconds!r}")
    share = content.exercise_cells / content.cells if content.cells else 0.0
    return content.exercises * EXERCISE_MINUTES + share * execution_seconds / 60


def rounded(minutes: float) -> int:
    """Minutes as a reader is told them: to the nearest 5 (at least 5)."""
    return max(5, 5 * round(minutes / 5))


# -- Counting on a doctree ---------------------------------------------------------------------


def _is_cell(node: nodes.Node) -> bool:
    return isinstance(node, nodes.container) and "cell" in node.get("classes", [])


def _is_exercise(node: nodes.Node) -> bool:
    return type(node).__name__ in {
        "exercise_node",
        "exercise_enumerable_node",
        "exercise_unenumerable_node",
        "solution_node",
    }


def _lines(text: str) -> int:
    return len([line for line in text.splitlines() if line.strip()])


def _body_rows(table: nodes.table) -> int:
    """Rows below the header (the header row is part of the table's own cost)."""
    return sum(1 for body in table.findall(nodes.tbody) for _ in body.findall(nodes.row))


def _count(node: nodes.Node, counts: dict, in_exercise: bool) -> None:
    """Add what ``node`` holds to ``counts`` (reading items only outside exercises)."""
    if _is_exercise(node):
        counts["exercises"] += type(node).__name__ != "solution_node"
        in_exercise = True
    if _is_cell(node):
        counts["cells"] += 1
        counts["exercise_cells"] += in_exercise
    if isinstance(node, nodes.comment) or isinstance(node, nodes.Invisible):
        return
    if in_exercise:  # an exercise's reading is part of its time, not the chapter's
        for child in node.children:
            _count(child, counts, in_exercise)
        return
    if isinstance(node, nodes.Element) and node.get("nb_element") == "mime_bundle":
        _count_output(node, counts)  # one output, offered in several formats: counted once
        return
    if isinstance(node, nodes.image):
        counts["figures"] += 1
    elif isinstance(node, nodes.table):
        counts["tables"] += 1
        counts["table_rows"] += _body_rows(node)
        return
    elif isinstance(node, nodes.math_block):
        counts["equations"] += 1
        return
    elif isinstance(node, nodes.math):
        counts["inline_math"] += 1
        return
    elif isinstance(node, nodes.literal_block):
        parent = node.parent
        output = parent is not None and "cell_output" in parent.get("classes", [])
        counts["output_lines" if output else "code_lines"] += _lines(node.astext())
        return
    elif isinstance(node, nodes.raw):
        return
    elif isinstance(node, nodes.Text):
        counts["words"] += len(WORD.findall(node.astext()))
        return
    for child in node.children:
        _count(child, counts, in_exercise)


def _count_output(bundle: nodes.Element, counts: dict) -> None:
    """A cell's output in several formats (myst-nb's mime bundle), as the reader sees it once."""
    if any(True for _ in bundle.findall(nodes.image)):
        counts["figures"] += 1
    elif tables := list(bundle.findall(nodes.table)):
        counts["tables"] += 1
        counts["table_rows"] += _body_rows(tables[0])
    elif any("<figure" in n.astext() for n in bundle.findall(nodes.raw)):
        counts["figures"] += 1  # an interactive explorer
    elif any("<table" in n.astext() for n in bundle.findall(nodes.raw)):
        counts["tables"] += 1
        rows = max(n.astext().count("<tr") for n in bundle.findall(nodes.raw))
        counts["table_rows"] += max(0, rows - 1)  # below the header, as _body_rows
    else:
        text = [n for n in bundle.findall(nodes.literal_block)]
        counts["output_lines"] += _lines(text[0].astext()) if text else 0


def page_content(doctree: nodes.Node) -> PageContent:
    """Count what ``doctree`` holds (see ``PageContent``)."""
    counts = dict.fromkeys((f.name for f in fields(PageContent)), 0)
    _count(doctree, counts, False)
    return PageContent(**counts)


# -- The extension -----------------------------------------------------------------------------


class pending_time(nodes.Inline, nodes.TextElement):
    """A reading or exercise time, filled in when the page is written."""


class TimeRole(SphinxRole):
    """``{reading-time}`` and ``{exercise-time}``: the time of the page the target names."""

    def run(self):
        target = self.text.strip()
        if target:
            docname = self.env.relfn2path(target, self.env.docname)[1]
            docname = self.env.path2doc(docname) or target
        else:
            docname = self.env.docname
        self.env.bookbuild_time_users = getattr(self.env, "bookbuild_time_users", set())
        self.env.bookbuild_time_users.add(self.env.docname)
        kind = "exercises" if self.name.endswith("exercise-time") else "reading"
        node = pending_time("", "", refdoc=docname, kind=kind)
        self.set_source_info(node)
        return [node], []


def _store(app: Sphinx, doctree: nodes.document) -> None:
    env = app.env
    env.bookbuild_content = getattr(env, "bookbuild_content", {})
    env.bookbuild_content[env.docname] = asdict(page_content(doctree))


def _purge(app: Sphinx, env: BuildEnvironment, docname: str) -> None:
    getattr(env, "bookbuild_content", {}).pop(docname, None)
    getattr(env, "bookbuild_time_users", set()).discard(docname)


def _merge(app: Sphinx, env: BuildEnvironment, docnames, other: BuildEnvironment) -> None:
    env.bookbuild_content = getattr(env, "bookbuild_content", {})
    env.bookbuild_time_users = getattr(env, "bookbuild_time_users", set())
    for docname in docnames:
        if docname in getattr(other, "bookbuild_content", {}):
            env.bookbuild_content[docname] = other.bookbuild_content[docname]
        if docname in getattr(other, "bookbuild_time_users", set()):
            env.bookbuild_time_users.add(docname)


def _note_read(app: Sphinx, env: BuildEnvironment, docnames: list) -> None:
    app._bookbuild_read = set(docnames)


def _pages_to_rewrite(app: Sphinx, env: BuildEnvironment) -> list[str]:
    """Every page that shows a time is written again whenever a page was read again, or the
    costs changed since the last build."""
    pricing = (sorted(COSTS.items()), EXERCISE_MINUTES)
    repriced = getattr(env, "bookbuild_pricing", None) != pricing
    env.bookbuild_pricing = pricing
    if not getattr(app, "_bookbuild_read", set()) and not repriced:
        return []
    return sorted(getattr(env, "bookbuild_time_users", set()))


class FillTimes(SphinxPostTransform):
    """Replace each pending time by "about N minutes"."""

    default_priority = 10

    def run(self, **kwargs) -> None:
        content = getattr(self.env, "bookbuild_content", {})
        budgets = self.config.reading_time_execution_budgets
        for node in list(self.document.findall(pending_time)):
            doc = node["refdoc"]
            if doc not in content:
                logger.warning(f"reading time: no page {doc!r}", location=node)
                node.replace_self(nodes.Text("?"))
                continue
            page = PageContent(**content[doc])
            seconds = float(budgets.get(doc.rsplit("/", 1)[-1], 0.0))
            if node["kind"] == "reading":
                minutes = reading_minutes(page)
            else:
                minutes = exercise_minutes(page, seconds)
            node.replace_self(nodes.Text(f"about {rounded(minutes)} minutes"))


def setup(app: Sphinx) -> dict:
    # each page's execution budget in seconds, by file name (conf.py: pyproject's lesson-budgets)
    app.add_config_value("reading_time_execution_budgets", {}, "env", types=[dict])
    app.add_node(pending_time)
    app.add_role("reading-time", TimeRole())
    app.add_role("exercise-time", TimeRole())
    app.connect("doctree-read", _store)
    app.connect("env-purge-doc", _purge)
    app.connect("env-merge-info", _merge)
    app.connect("env-before-read-docs", _note_read)
    app.connect("env-get-updated", _pages_to_rewrite)
    app.add_post_transform(FillTimes)
    return {"parallel_read_safe": True, "parallel_write_safe": True, "env_version": 1}
