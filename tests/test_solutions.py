"""Solutions a reader can follow on their own (issue 23): a solution imports what it uses, and its
first code cell names, in a comment at its top, every variable it takes from the chapter's cells
above (``# from the chapter's cells above: xb, yb``). Read from the lessons' source with ``ast``."""

import ast
import builtins
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LESSONS = sorted((ROOT / "lessons").glob("*.md"))
SOLUTION = re.compile(r"```\{solution-start\} ([\w-]+)\n(.*?)```\{solution-end\}", re.S)
CELL = re.compile(r"```\{code-cell\} ipython3\n(.*?)```", re.S)
LISTED = re.compile(r"^# from the chapter's cells above: (.+)$", re.M)
GIVEN = {"glue", "claim"}  # the page's own tools, imported at its top


def source(cell: str) -> str:
    """A code cell's Python: without its options (a YAML block or ``:key:`` lines)."""
    cell = re.sub(r"\A---\n.*?\n---\n", "", cell, flags=re.S)
    return "\n".join(line for line in cell.splitlines() if not line.startswith(":"))


def free_names(sources: list[str]) -> set[str]:
    """Names the cells read but neither define, import nor get from Python's builtins."""
    defined, read = set(), set()
    for tree in map(ast.parse, sources):
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                defined |= {(a.asname or a.name).split(".")[0] for a in node.names}
            elif isinstance(node, ast.Name):
                (read if isinstance(node.ctx, ast.Load) else defined).add(node.id)
            elif isinstance(node, (ast.FunctionDef, ast.ClassDef)):
                defined.add(node.name)
            elif isinstance(node, ast.arg):
                defined.add(node.arg)
    return {n for n in read - defined - GIVEN if not hasattr(builtins, n)}


def test_free_names_on_a_hand_made_cell():
    cells = ["import math\nfrom x import f as g\ny = g(math.pi, xb)\nprint([k for k in y], lag)"]
    assert free_names(cells) == {"xb", "lag"}


SOLUTIONS = [
    pytest.param(lesson, m.group(2), id=f"{lesson.stem}:{m.group(1)}")
    for lesson in LESSONS
    for m in SOLUTION.finditer(lesson.read_text(encoding="utf-8"))
]


@pytest.mark.parametrize("lesson, body", SOLUTIONS)
def test_a_solution_names_what_it_takes_from_the_page(lesson, body):
    cells = [source(c) for c in CELL.findall(body)]
    assert cells, "a solution runs its experiment: it has a code cell"
    listed = LISTED.search(cells[0])
    named = {n.strip() for n in listed.group(1).split(",")} if listed else set()
    missing = free_names(cells) - named
    assert not missing, (
        f"{lesson.name}: the solution uses {sorted(missing)} from earlier cells; import them in it, "
        "or name them in its first cell: # from the chapter's cells above: ..."
    )


BY_HAND = ROOT / "code" / "gradflow" / "by_hand.py"  # the plain-PyTorch pieces the solutions show
SHOWN = re.compile(
    r"```\{literalinclude\} \.\./code/gradflow/by_hand\.py\n(?::.*\n)*?:pyobject: (\w+)"
)


def torch_imports_only(source: str) -> set[str]:
    """The top-level packages ``source`` imports, other than torch and math."""
    imported = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            imported |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            imported.add((node.module or "").split(".")[0])
    return imported - {"torch", "math"}


def test_the_plain_pytorch_pieces_use_torch_alone():
    assert not torch_imports_only(BY_HAND.read_text(encoding="utf-8"))


@pytest.mark.parametrize("lesson", LESSONS, ids=lambda p: p.stem)
def test_one_exercise_in_plain_pytorch(lesson):
    """Every chapter has one exercise (``ex-<chapter>-pytorch``) in which the reader writes the idea
    in plain PyTorch: its solution shows a piece of ``gradflow/by_hand.py`` (which imports torch
    alone), or its first cell uses torch alone, and a claim checks it against the book's own
    version (issue 23)."""
    text = lesson.read_text(encoding="utf-8")
    solutions = {m.group(1): m.group(2) for m in SOLUTION.finditer(text)}
    plain = [label for label in solutions if label.endswith("-pytorch")]
    assert len(plain) == 1, f"{lesson.name}: {len(plain)} plain-PyTorch exercises, not one"
    body = solutions[plain[0]]
    cells = [source(c) for c in CELL.findall(body)]
    shown = SHOWN.findall(body)
    defined = {
        n.name for n in ast.parse(BY_HAND.read_text(encoding="utf-8")).body if hasattr(n, "name")
    }
    assert set(shown) <= defined, f"{lesson.name}: shows {set(shown) - defined}, not in by_hand.py"
    if not shown:  # the reader's code is in the solution's first cell
        imported = torch_imports_only(cells[0])
        assert not imported, f"{lesson.name}: {plain[0]}'s own code imports {imported}"
        assert "gradflow" not in cells[0], f"{lesson.name}: {plain[0]}'s own code uses gradflow"
    assert any(re.search(r"\bclaim\(", c) for c in cells[1:]), f"{lesson.name}: no claim checks it"
