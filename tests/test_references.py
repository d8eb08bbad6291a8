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


def table_calls(text: str) -> list[str]:
    """The text of every ``Table(...)`` call in a lesson's source, brackets balanced."""
    calls = []
    for match in re.finditer(r"\bTable\(", text):
        depth, i = 0, match.end() - 1
        for i in range(match.end() - 1, len(text)):
            depth += {"(": 1, ")": -1}.get(text[i], 0)
            if depth == 0:
                break
        calls.append(text[match.start() : i + 1])
    return calls


def test_table_calls_reads_nested_brackets():
    text = 'x = Table(["a"], [(f(1), 2)], caption="c", name="tab-x")\nTable([], [])'
    assert table_calls(text) == [
        'Table(["a"], [(f(1), 2)], caption="c", name="tab-x")',
        "Table([], [])",
    ]


@pytest.mark.parametrize("lesson", LESSONS, ids=lambda p: p.stem)
def test_every_table_has_a_name(lesson):
    """A table without a name gets one from its caption's words, which a reworded caption changes;
    a table the prose refers to by number names itself."""
    calls = table_calls(lesson.read_text(encoding="utf-8"))
    unnamed = [call for call in calls if not re.search(r'\bname="tab-[\w-]+"', call)]
    assert not unnamed, f'{lesson.name}: tables without name="tab-...":\n' + "\n".join(unnamed)


PAPER = re.compile(
    r"^:::\{admonition\} How this compares with the paper\n((?::\w+:[^\n]*\n)*)(.*?)^:::\n",
    re.M | re.S,
)


@pytest.mark.parametrize("lesson", LESSONS, ids=lambda p: p.stem)
def test_comparisons_with_the_paper_are_folded_at_the_end_of_their_section(lesson):
    """The comparison with a paper sits in a folded block at the end of its section, named after
    the section's label, and the ledger links to it (issue 23)."""
    text = lesson.read_text(encoding="utf-8")
    ledger = (ROOT / "docs" / "ledger.md").read_text(encoding="utf-8")
    labels = set(re.findall(r"^\(([\w-]+)\)=$", text, re.M))
    for block in PAPER.finditer(text):
        options = dict(re.findall(r"^:(\w+): *(.*)$", block.group(1), re.M))
        name = options.get("name", "")
        assert "dropdown" in options.get("class", "").split(), (
            f"{lesson.name}: {name} is not folded"
        )
        assert name.startswith("paper-") and name[len("paper-") :] in labels, (
            f"{lesson.name}: a comparison named {name!r}, not paper-<its section's label>"
        )
        after = text[block.end() :].lstrip("\n")
        assert not after or re.match(r"(\([\w-]+\)=\n)?#", after), (
            f"{lesson.name}: {name} is not the last thing in its section"
        )
        assert f"<{name}>" in ledger, f"the ledger does not link to {name}"
