"""Protects honest reading times (issue 23): bookbuild.reading_time counts what a page holds on its
doctree and prices each item at its stated cost; checked on hand-built doctrees with minutes derived
by hand, and on a small book whose landing page shows a lesson's time, rebuilt after the lesson
grows (the number must change: never stale)."""

import re
from types import SimpleNamespace

import pytest
from docutils import nodes
from docutils.frontend import get_default_settings
from docutils.parsers.rst import Parser
from docutils.utils import new_document

from bookbuild.reading_time import (
    COSTS,
    EXERCISE_MINUTES,
    PageContent,
    _pages_to_rewrite,
    exercise_minutes,
    page_content,
    reading_minutes,
    rounded,
)
from conftest import ROOT, lesson, small_book, sphinx_build


def doctree(*children: nodes.Node) -> nodes.document:
    doc = new_document("test", get_default_settings(Parser))
    doc += list(children)
    return doc


def cell(code: str, output: nodes.Node | None = None) -> nodes.container:
    box = nodes.container(classes=["cell"])
    box += nodes.container("", nodes.literal_block(code, code), classes=["cell_input"])
    if output is not None:
        box += nodes.container("", output, classes=["cell_output"])
    return box


def bundle(*parts: nodes.Node) -> nodes.container:
    """A myst-nb mime bundle: one output in several formats."""
    return nodes.container("", *parts, nb_element="mime_bundle")


def test_counts_of_a_hand_built_page():
    table = nodes.table(
        "", nodes.tgroup("", nodes.tbody("", nodes.row(), nodes.row(), nodes.row()))
    )
    figure = bundle(nodes.image(uri="a.png"), nodes.image(uri="a.pdf"))  # one figure, two formats
    doc = doctree(
        nodes.paragraph("", "Ten words of prose, the first ten of this chapter"),
        nodes.paragraph("", "", nodes.Text("with "), nodes.math("x", "x"), nodes.Text(" inline")),
        nodes.math_block("a = b", "a = b"),
        cell("x = 1\ny = 2\n\nprint(x)", bundle(nodes.literal_block("1\n2", "1\n2"))),
        cell("fig", figure),
        table,
        nodes.literal_block("line\nline", "line\nline"),  # a listing (literalinclude)
    )
    # by hand: 10 + 2 words; 1 inline formula; 1 equation; code 3 + 1 + 2 non-empty lines;
    # output 2 lines; 1 figure; 1 table of 3 rows; 2 cells, no exercise
    assert page_content(doc) == PageContent(
        words=12, inline_math=1, equations=1, figures=1, tables=1, table_rows=3,
        code_lines=6, output_lines=2, cells=2,
    )  # fmt: skip


def test_minutes_by_hand():
    page = PageContent(words=2000, inline_math=10, equations=4, figures=3, tables=2,
                       table_rows=20, code_lines=100, output_lines=50)  # fmt: skip
    # 2000/200 = 10; 10 * 0.05 = 0.5; 4 * 1 = 4; 3 * 2.5 = 7.5; 2 * 0.25 = 0.5; 20 * 0.02 = 0.4;
    # 100 * 0.01 = 1; 50 * 0.01 = 0.5: 24.4 minutes
    assert COSTS["words"] == 1 / 200 and COSTS["figures"] == 2.5  # the costs this case assumes
    assert reading_minutes(page) == pytest.approx(24.4)
    assert rounded(26.0) == 25 and rounded(28.0) == 30 and rounded(0.5) == 5


def test_exercises_apart_from_reading():
    solution = type("solution_node", (nodes.Element,), {})
    exercise = type("exercise_enumerable_node", (nodes.Element,), {})
    ex = exercise("", nodes.paragraph("", "Change the depth and predict."))
    doc = doctree(
        nodes.paragraph("", "Read me."),
        cell("a = 1"),
        ex,
        solution("", cell("b = 2\nc = 3"), nodes.paragraph("", "Because.")),
        exercise("", nodes.paragraph("", "Another one.")),
    )
    page = page_content(doc)
    # the exercises' words and code are not reading: 2 words, 1 code line
    assert (page.words, page.code_lines) == (2, 1)
    assert (page.exercises, page.exercise_cells, page.cells) == (2, 1, 2)
    # 2 exercises * 5 min + half the cells of a 120 s lesson: 1 minute
    assert EXERCISE_MINUTES == 5.0
    assert exercise_minutes(page, 120.0) == pytest.approx(11.0)
    assert exercise_minutes(page) == pytest.approx(10.0)


def test_bad_input_is_rejected():
    with pytest.raises(ValueError, match="words"):
        PageContent(words=-1)
    with pytest.raises(ValueError, match="figures"):
        PageContent(figures=1.5)
    with pytest.raises(ValueError, match="execution_seconds"):
        exercise_minutes(PageContent(), float("nan"))


def test_pages_showing_times_are_written_again():
    """After a page is read again, or the costs changed; not otherwise."""
    env = SimpleNamespace(bookbuild_time_users={"docs/index"})
    app = SimpleNamespace(_bookbuild_read=set())
    assert _pages_to_rewrite(app, env) == ["docs/index"]  # no costs known from a build before
    assert _pages_to_rewrite(app, env) == []  # nothing read, the same costs
    app._bookbuild_read = {"lessons/one"}
    assert _pages_to_rewrite(app, env) == ["docs/index"]
    app._bookbuild_read, env.bookbuild_pricing = set(), "the costs of an earlier build"
    assert _pages_to_rewrite(app, env) == ["docs/index"]


def test_landing_page_computes_every_chapter_time():
    index = (ROOT / "docs" / "index.md").read_text()
    chapters = sorted(p.stem for p in (ROOT / "lessons").glob("*.md"))
    for name in chapters:
        assert f"{{reading-time}}`../lessons/{name}.md`" in index, name
        assert f"{{exercise-time}}`../lessons/{name}.md`" in index, name
    assert not re.search(r"\(about \d+ minutes\)", index), "a reading time typed by hand"


@pytest.mark.build
def test_time_follows_the_lesson(tmp_path):
    """A landing page with a lesson's time; the lesson grows by 2000 words and the landing page
    (not itself edited) shows the new time on the next build."""
    src = small_book(tmp_path / "src", {"one": lesson("One", prose="word " * 1000)})
    index = src / "docs" / "index.md"
    index.write_text(index.read_text() + "\nReading {reading-time}`../lessons/one.md`.\n")

    def shown() -> int:
        result = sphinx_build(src, tmp_path / "html")
        assert result.returncode == 0, result.stderr[-3000:]
        html = (tmp_path / "html" / "docs" / "index.html").read_text()
        return int(re.search(r"Reading about (\d+) minutes", html).group(1))

    assert shown() == 5  # 1000 words and a title: 5 minutes
    (src / "lessons" / "one.md").write_text(lesson("One", prose="word " * 3000))
    assert shown() == 15  # 3000 words: 15 minutes
