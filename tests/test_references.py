"""Figures referred to by number (issue 23): every figure a lesson shows has a name, and the prose
refers to it, and to every named table, with ``{numref}`` (not "the figure below"). Read from the
lessons' source."""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LESSONS = sorted((ROOT / "lessons").glob("*.md"))
FIGURE = re.compile(r"^  figure:\n(?:    .*\n)*", re.MULTILINE)  # a code cell's mystnb figure block
NAMED = re.compile(r"^    name: ((?:fig|tab)-[\w-]+)$|name=\"(tab-[\w-]+)\"", re.MULTILINE)


def references(text: str) -> set[str]:
    """The labels a text refers to by number: {numref}`label` or {numref}`words <label>`."""
    return {
        m.group(2) or m.group(1) for m in re.finditer(r"\{numref\}`([^`<]*?)(?:<([^>`]+)>)?`", text)
    }


def test_references_reads_both_forms():
    text = "{numref}`fig-a` and {numref}`Figure %s <fig-b>`, not {ref}`fig-c`"
    assert references(text) == {"fig-a", "fig-b"}


@pytest.mark.parametrize("lesson", LESSONS, ids=lambda p: p.stem)
def test_every_figure_has_a_name(lesson):
    blocks = FIGURE.findall(lesson.read_text(encoding="utf-8"))
    unnamed = [block for block in blocks if "    name: fig-" not in block]
    assert not unnamed, f"{lesson.name}: figures without a name:\n" + "\n".join(unnamed)


@pytest.mark.parametrize("lesson", LESSONS, ids=lambda p: p.stem)
def test_every_named_figure_and_table_is_referred_to_by_number(lesson):
    text = lesson.read_text(encoding="utf-8")
    named = {m.group(1) or m.group(2) for m in NAMED.finditer(text)}
    everywhere = set().union(*(references(p.read_text(encoding="utf-8")) for p in LESSONS))
    assert named, f"{lesson.name} names no figure or table"
    assert not named - everywhere, (
        f"{lesson.name}: never referred to by number: {named - everywhere}"
    )
