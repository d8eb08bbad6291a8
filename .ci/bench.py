"""Benchmark: time each lesson's bare execution and the full site build, and print both.

Bare execution runs a lesson's code cells as one plain Python script (no Jupyter kernel, no Sphinx),
which is the cost a reader pays when running the lesson's code. The site build is the strict build of
`nox -s docs` into a temporary folder. Lesson budgets are set by the issues that add the lessons.

    nox -s bench                       # every lesson, then the full build
    nox -s bench -- --lessons-only     # skip the site build
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time
import tomllib
from pathlib import Path

from myst_nb.core.read import read_myst_markdown_notebook

ROOT = Path(__file__).resolve().parents[1]
# the strict build's options, written once in pyproject.toml and shared with nox and the tests
SPHINX_OPTIONS = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["book"][
    "sphinx-options"
]
# Budget per lesson in seconds of bare execution on 2 CPU cores, from the issues that add them.
BUDGETS = {
    "vanishing_gradients": 60,
    "shortcut_connections": 60,
    "shortcuts_in_training": 90,
    "transformer_block": 60,
    "why_residuals_work": 120,
}


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


def time_build() -> float:
    """Run the strict site build into a temporary folder; return wall-clock seconds."""
    with tempfile.TemporaryDirectory() as out:
        cmd = [sys.executable, "-m", "sphinx", *SPHINX_OPTIONS, "-q"]
        cmd += [str(ROOT), f"{out}/html", "-d", f"{out}/doctrees"]
        start = time.perf_counter()
        result = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
        elapsed = time.perf_counter() - start
    if result.returncode != 0:
        sys.exit(f"site build failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lessons-only", action="store_true", help="skip the full site build")
    args = parser.parse_args()
    over = []
    print(f"{'lesson':<28} {'bare execution':>15} {'budget':>8}")
    for path in sorted((ROOT / "lessons").glob("*.md")):
        seconds = time_lesson(path)
        budget = BUDGETS.get(path.stem)
        flag = "" if budget is None or seconds <= budget else "  OVER BUDGET"
        if flag:
            over.append(path.stem)
        budget_text = f"{budget} s" if budget else "-"
        print(f"{path.stem:<28} {seconds:>13.1f} s {budget_text:>8}{flag}", flush=True)
    if not args.lessons_only:
        print(f"{'full site build':<28} {time_build():>13.1f} s")
    if over:
        sys.exit(f"over budget: {', '.join(over)}")


if __name__ == "__main__":
    main()
