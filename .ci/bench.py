"""Benchmark: time each lesson's bare execution and the full site build, and print both.

Bare execution runs a lesson's code cells as one plain Python script (no Jupyter kernel, no Sphinx),
which is the cost a reader pays when running the lesson's code. The site builds are the strict build
of `nox -s docs` on a copy of the book in a temporary folder: a clean build, a rebuild with nothing
changed, one after a prose edit and one after an edit to gradflow/gpt.py, each with the number of
lessons it executed. Lesson budgets are set by the issues that add the lessons.

    nox -s bench                       # every lesson, then the full build
    nox -s bench -- --lessons-only     # skip the site build
    nox -s bench -- --bare 330         # the site builds alone, against a bare time measured before
"""

import argparse
import ast
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
from pathlib import Path

from myst_nb.core.read import read_myst_markdown_notebook

ROOT = Path(__file__).resolve().parents[1]
# the strict build's options, written once in pyproject.toml and shared with nox and the tests
BOOK = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["book"]
SPHINX_OPTIONS = BOOK["sphinx-options"]
# Budget per lesson in seconds of bare execution on 2 CPU cores, from the issues that add them.
BUDGETS = BOOK["lesson-budgets"]
TOTAL_BUDGET = 330  # issue 19: every lesson's bare execution in turn, seeds and all


def lesson_script(path: Path) -> str:
    """The code cells of a MyST-NB lesson, joined into one script."""
    notebook = read_myst_markdown_notebook(path.read_text(encoding="utf-8"))
    return "\n\n".join(c.source for c in notebook.cells if c.cell_type == "code")


def time_lesson(path: Path) -> float:
    """Run a lesson's code as a script in its own folder; return wall-clock seconds."""
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as f:
        f.write(lesson_script(path))
    start = time.perf_counter()
    result = subprocess.run(
        [sys.executable, f.name],
        cwd=path.parent,
        capture_output=True,
        text=True,
        env={**os.environ, "MPLBACKEND": "Agg"},
    )
    elapsed = time.perf_counter() - start
    Path(f.name).unlink()
    if result.returncode != 0:
        sys.exit(f"{path.name} failed:\n{result.stderr[-3000:]}")
    return elapsed


def copy_of_the_book(dest: Path) -> Path:
    """Copy the book's tracked files (as git lists them) into ``dest``: builds there start cold."""
    files = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    for name in files:
        if (ROOT / name).is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, dest / name)
    return dest


def time_build(src: Path, out: str = "_build") -> tuple[float, int]:
    """Build the book in ``src`` strictly into src/``out``; return seconds and lessons executed."""
    cmd = [sys.executable, "-m", "sphinx", *SPHINX_OPTIONS, str(src), f"{src}/{out}/html"]
    cmd += ["-d", f"{src}/{out}/doctrees"]
    env = {**os.environ, "PYTHONPATH": str(src / "code")}  # the copy's package, not the checkout's
    start = time.perf_counter()
    result = subprocess.run(cmd, cwd=src, capture_output=True, text=True, env=env)
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        sys.exit(f"site build failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return elapsed, len(re.findall(r"\[bookbuild\] \S+: executes again", result.stdout))


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{path} has no {old!r} to edit"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def time_builds(bare: float) -> None:
    """Clean build, rebuilds after no change, a prose edit and a package edit, against ``bare``."""
    with tempfile.TemporaryDirectory() as tmp:
        src = copy_of_the_book(Path(tmp))
        lessons = sorted((src / "lessons").glob("*.md"))
        clean, n = time_build(src)
        rows = [("clean build", clean, n)]
        rows.append(("rebuild, nothing changed", *time_build(src)))
        # what the tests' build does after `nox -s docs`: the same sources, another output folder
        rows.append(("build into another folder", *time_build(src, "_build/other")))
        with lessons[0].open("a", encoding="utf-8") as f:  # a prose edit at the end of a lesson
            f.write("\nA sentence added by the benchmark.\n")
        rows.append(("rebuild after a prose edit", *time_build(src)))
        edit(src / "code/gradflow/gpt.py", "\n", "\n# an edit by the benchmark\n")
        rows.append(("rebuild after editing gpt.py", *time_build(src)))
        experiment = src / "code/gradflow/experiments/shortcut_connections.py"
        edit(experiment, "\n", "\n# an edit by the benchmark\n")
        rows.append(("rebuild after editing one chapter's experiment module", *time_build(src)))
        figures = src / "code/gradflow/plots/vanishing_gradients.py"
        edit(figures, "\n", "\n# an edit by the benchmark\n")
        rows.append(("rebuild after editing one chapter's figure module", *time_build(src)))
    print(f"\n{'build':<54} {'seconds':>8} {'lessons executed':>17} {'vs clean':>9}")
    for name, seconds, executed in rows:
        print(f"{name:<54} {seconds:>8.1f} {executed:>17} {seconds / clean:>9.2f}")
    print(f"clean build / bare execution of every lesson: {clean / bare:.2f} (target <= 1.1)")


INCLUDE = re.compile(r"```\{literalinclude\}\s+(\S+)\n(?::[^\n]*\n)*?:pyobject: (\S+)")


def _check_lines(node: ast.AST) -> set[int]:
    """Lines of ``node`` that check arguments: a raise, an ``if`` whose body only raises, a call
    of a ``check_*`` helper as a statement."""
    lines: set[int] = set()
    for n in ast.walk(node):
        if isinstance(n, ast.If) and all(isinstance(b, ast.Raise) for b in n.body) and not n.orelse:
            lines.update(range(n.lineno, n.end_lineno + 1))
        elif isinstance(n, ast.Raise):
            lines.update(range(n.lineno, n.end_lineno + 1))
        elif isinstance(n, ast.Expr) and isinstance(n.value, ast.Call):
            name = ast.unparse(n.value.func)
            if name.split(".")[-1].startswith("check_"):
                lines.update(range(n.lineno, n.end_lineno + 1))
    return lines


def code_stats() -> None:
    """Lines per module of gradflow, its raise statements, and the share of argument checks in
    the code the chapters print (their literalinclude :pyobject: objects)."""
    modules = sorted((ROOT / "code" / "gradflow").rglob("*.py"))
    raises = 0
    print(f"\n{'module':<48} {'lines':>6} {'raise':>6}")
    for path in modules:
        text = path.read_text(encoding="utf-8")
        n = sum(isinstance(x, ast.Raise) for x in ast.walk(ast.parse(text)))
        raises += n
        name = path.relative_to(ROOT / "code").as_posix()
        print(f"{name:<48} {len(text.splitlines()):>6} {n:>6}")
    printed = checks = 0
    for lesson in sorted((ROOT / "lessons").glob("*.md")):
        for file, obj in INCLUDE.findall(lesson.read_text(encoding="utf-8")):
            tree = ast.parse((lesson.parent / file).read_text(encoding="utf-8"))
            node = tree
            for part in obj.split("."):
                node = next(
                    c
                    for c in ast.iter_child_nodes(node)
                    if isinstance(c, ast.ClassDef | ast.FunctionDef) and c.name == part
                )
            printed += node.end_lineno - node.lineno + 1
            checks += len(_check_lines(node))
    print(f"raise statements in gradflow: {raises}")
    print(
        f"code the chapters print: {printed} lines, {checks} of them argument checks "
        f"({checks / max(printed, 1):.1%}; target <= 5 %)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lessons-only", action="store_true", help="skip the site builds")
    parser.add_argument(
        "--bare",
        type=float,
        help="the lessons' bare execution in seconds, measured before: "
        "skip timing the lessons and time the site builds against it",
    )
    args = parser.parse_args()
    if args.bare:
        code_stats()
        time_builds(args.bare)
        return
    over, bare = [], 0.0
    print(f"{'lesson':<28} {'bare execution':>15} {'budget':>8}")
    for path in sorted((ROOT / "lessons").glob("*.md")):
        seconds = time_lesson(path)
        bare += seconds
        budget = BUDGETS.get(path.stem)
        flag = "" if budget is None or seconds <= budget else "  OVER BUDGET"
        if flag:
            over.append(path.stem)
        budget_text = f"{budget} s" if budget else "-"
        print(f"{path.stem:<28} {seconds:>13.1f} s {budget_text:>8}{flag}", flush=True)
    flag = "" if bare <= TOTAL_BUDGET else "  OVER BUDGET"
    if flag:
        over.append("the sum")
    print(f"{'sum':<28} {bare:>13.1f} s {TOTAL_BUDGET:>6} s{flag}")
    code_stats()
    if not args.lessons_only:
        time_builds(bare)
    if over:
        sys.exit(f"over budget: {', '.join(over)}")


if __name__ == "__main__":
    main()
