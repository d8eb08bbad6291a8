"""Protects each chapter's downloaded notebook as a reader runs it: top to bottom, in a fresh kernel
that cannot import MyST-NB (a file of its own, so that pytest-xdist runs these long executions on
one worker while the other runs the rest of the suite)."""

import os
import shutil
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from conftest import ROOT

# Longest first, so that the two kernels below finish together (a chapter not in this list first).
LONGEST_FIRST = [
    "training_transformers",
    "why_residuals_work",
    "shortcuts_in_training",
    "transformer_block",
    "vanishing_gradients",
    "shortcut_connections",
]
LESSONS = sorted(
    (p.stem for p in (ROOT / "lessons").glob("*.md")),
    key=lambda stem: LONGEST_FIRST.index(stem) if stem in LONGEST_FIRST else -1,
)

# Running every chapter's notebook again takes about as long as executing the book (five minutes of
# two cores), so the shortest chapter runs everywhere, CI adds the other two chapters whose
# execution budget is a minute (`nox -s bench`), and GRADFLOW_ALL_NOTEBOOKS=1 runs every chapter
# (the weekly job of .github/workflows/pages.yml does).
SHORTEST = "shortcut_connections"
QUICK = (SHORTEST, "vanishing_gradients", "transformer_block")


def chapters_to_run() -> list[str]:
    if os.environ.get("GRADFLOW_ALL_NOTEBOOKS"):
        return LESSONS
    if os.environ.get("CI"):
        return [lesson for lesson in LESSONS if lesson in QUICK]
    return [SHORTEST]


# A module that Python imports at start-up (``sitecustomize``) and that puts a finder at the front
# of ``sys.meta_path`` refusing ``myst_nb``: the kernel of a reader without MyST-NB.
HIDE_MYST_NB = """\
import sys

class HideMystNb:
    def find_spec(self, name, path=None, target=None):
        if name == 'myst_nb' or name.startswith('myst_nb.'):
            raise ImportError('myst_nb is hidden: a reader without MyST-NB')
        return None

sys.meta_path.insert(0, HideMystNb())
"""

CHECK_HIDDEN = """\
try:
    import myst_nb
except ImportError:
    pass
else:
    raise AssertionError('myst_nb was importable')"""


def run_notebook(site, lesson, work, env):
    """Run the lesson's downloaded notebook in ``work`` with a kernel started with ``env``; return
    the notebook's error outputs and the seconds it took."""
    import nbformat
    from nbclient import NotebookClient

    work.mkdir()
    shutil.copy(site / "lessons" / f"{lesson}.ipynb", work)
    nb = nbformat.read(work / f"{lesson}.ipynb", as_version=4)
    # this environment has gradflow already: the install cell (tests/test_reader_notebook.py) goes
    nb.cells = [c for c in nb.cells if "install" not in c.metadata.get("tags", [])]
    nb.cells.insert(0, nbformat.v4.new_code_cell(CHECK_HIDDEN))
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = []
    start = time.perf_counter()
    client = NotebookClient(
        nb, timeout=900, kernel_name="python3", resources={"metadata": {"path": str(work)}}
    )
    client.execute(env=env)
    errors = [out for c in nb.cells for out in c.get("outputs", []) if out.output_type == "error"]
    return errors, time.perf_counter() - start


@pytest.fixture(scope="module")
def notebook_runs(site, tmp_path_factory):
    """Every chapter's notebook that this run checks, started together, two kernels at a time (one
    torch thread each; the other test worker shares the two cores).

    The kernels run on the processor's own kernels, as a reader's would, even where the tests' site
    build runs on PyTorch's plainest ones (``ATEN_CPU_CAPABILITY=default`` in CI): so every CI run
    checks the lessons' claims on both paths, the build's and the reader's."""
    lessons = chapters_to_run()
    root = tmp_path_factory.mktemp("notebooks")
    hide = root / "hide"
    hide.mkdir()
    (hide / "sitecustomize.py").write_text(HIDE_MYST_NB)
    env = {key: value for key, value in os.environ.items() if key != "ATEN_CPU_CAPABILITY"}
    env["PYTHONPATH"] = str(hide)
    with ThreadPoolExecutor(max_workers=2) as pool:
        runs = {
            lesson: pool.submit(run_notebook, site, lesson, root / lesson, env)
            for lesson in lessons
        }
        yield runs


@pytest.mark.site
@pytest.mark.parametrize("lesson", LESSONS)
def test_downloaded_notebook_runs_without_myst_nb(notebook_runs, lesson):
    """The downloaded notebook runs top to bottom in a fresh kernel of this environment (which has
    gradflow) in an empty folder, as on a reader's machine. The kernel cannot import MyST-NB, so the
    lessons' ``glue`` must take its fallback; a first cell added to the notebook checks that the
    import really fails there."""
    if lesson not in notebook_runs:
        pytest.skip("set GRADFLOW_ALL_NOTEBOOKS=1 to run every chapter")
    errors, seconds = notebook_runs[lesson].result()
    print(f"{lesson}.ipynb ran in {seconds:.1f} s without myst_nb")
    assert not errors
