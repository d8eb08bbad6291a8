"""Protects the build engine end to end, on a small book in a temporary folder (the real conf.py and
docs, a package of two modules and two lessons): a lesson executes again exactly when a module it
reaches changes, and its page then shows the new output; a prose edit executes nothing; a rebuild
with nothing changed executes nothing; the other lesson keeps its cached execution; a build into
another output folder reuses every valid execution, and a page made from an older execution is read
again; after no change and after a prose edit, every file of the site is as a clean build writes it."""

import os
import re

import pytest

from conftest import lesson, small_book, sphinx_build

pytestmark = pytest.mark.build  # small Sphinx builds of their own: not the unit tier


@pytest.fixture
def book(tmp_path):
    """The real conf.py and docs around two lessons and a package of their own (code/gradflow)."""
    lessons = {
        name: lesson(
            f"Lesson {name}",
            f'from gradflow.{module} import value\n\nprint("value is", value())',
            prose="Some prose.",
        )
        for name, module in (("a", "one"), ("b", "two"))
    }
    src = small_book(tmp_path / "src", lessons)
    pkg = src / "code" / "gradflow"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text('__version__ = "0"\n')
    (pkg / "one.py").write_text("def value():\n    return 1\n")
    (pkg / "two.py").write_text("def value():\n    return 2\n")
    return src


def build(src, out="out"):
    """Build the book with its own package first on the path (for the kernels and conf.py); the
    build engine is the checkout's (the rest of the path, as a worktree sets it, or the install)."""
    path = [str(src / "code"), *filter(None, [os.environ.get("PYTHONPATH")])]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(path)}
    result = sphinx_build(src, src.parent / out / "html", env=env)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    executed = set(re.findall(r"\[bookbuild\] lessons/(\w+)\.md: executes again", output))
    return executed, output


def page(src, name, out="out"):
    return (src.parent / out / "html" / "lessons" / f"{name}.html").read_text()


def stylesheets(html):
    """The stylesheet links of a page, each with its checksum (``?v=...``) where it has one."""
    return re.findall(r'<link rel="stylesheet"[^>]*href="([^"]+)"', html)


def test_a_lesson_executes_exactly_when_its_dependencies_change(book):
    executed, _ = build(book)
    assert executed == {"a", "b"}
    assert "value is 1" in page(book, "a")

    executed, _ = build(book)  # nothing changed
    assert executed == set()

    (book / "code" / "gradflow" / "one.py").write_text("def value():\n    return 10\n")
    executed, output = build(book)  # lesson a reaches one.py, lesson b does not
    assert executed == {"a"}
    assert "code/gradflow/one.py" in output
    assert "value is 10" in page(book, "a") and "value is 2" in page(book, "b")
    # page b was written by the clean build, page a again into the full folder: same stylesheets
    assert stylesheets(page(book, "a")) == stylesheets(page(book, "b"))

    lesson_b = book / "lessons" / "b.md"
    lesson_b.write_text(lesson_b.read_text().replace("Some prose.", "Some new prose."))
    executed, output = build(book)  # a prose edit: the page is read again, nothing executes
    assert executed == set()
    assert "Some new prose." in page(book, "b") and "value is 2" in page(book, "b")
    assert "Executing notebook" not in output and "executing" not in output


def site(src, out="out"):
    """Every file of the built site, by its path."""
    html = src.parent / out / "html"
    return {p.relative_to(html).as_posix(): p.read_bytes() for p in html.rglob("*") if p.is_file()}


def test_a_rebuild_leaves_the_site_as_a_clean_build_writes_it(book):
    """After no change and after a prose edit, every file as a clean build of the same sources
    writes it: the sitemap and the search index (which speak of every page) too."""
    lesson_a = book / "lessons" / "a.md"
    with lesson_a.open("a") as f:  # an entry of the search index's index, and a word of its own
        f.write("\n```{index} single: shortcut connection\n```\n\nOne word: gradients.\n")
    build(book)
    clean = site(book)
    executed, output = build(book)
    assert executed == set() and "0 added, 0 changed, 0 removed" in output
    again = site(book)
    assert sorted(again) == sorted(clean)
    assert [name for name in clean if again[name] != clean[name]] == []
    assert b"lessons/a.html" in again["sitemap.xml"]
    assert b'"shortcut connection"' in again["searchindex.js"]
    lesson_a.write_text(lesson_a.read_text().replace("One word: gradients.", "Another."))
    build(book)  # a prose edit: the word is on no page any more
    build(book, "clean")  # the same sources, built clean
    edited, clean = site(book), site(book, "clean")
    assert sorted(edited) == sorted(clean)
    assert [name for name in clean if edited[name] != clean[name]] == []


def test_a_second_build_sharing_the_cache_leaves_no_page_stale(book):
    """Like the site and the tests' build: one execution cache, two sets of pages."""
    build(book, "site")
    executed, output = build(book, "other")  # another output folder, the same sources
    assert executed == set()  # reuses every execution
    assert "value is 1" in page(book, "a", "other")
    assert "without encryption" not in output  # the kernels' warnings stay out of the log
    assert "ParserConfig(" not in output  # nor MyST's configuration, a thousand characters a line
    (book / "code" / "gradflow" / "one.py").write_text("def value():\n    return 10\n")
    executed, _ = build(book, "other")  # executes lesson a with the new module
    assert executed == {"a"}
    executed, output = build(
        book, "site"
    )  # the site's page of lesson a was made from the old module
    assert executed == set()  # ... and is read again from the new execution
    assert "lessons/a.md: page read again" in output
    assert "value is 10" in page(book, "a", "site")
