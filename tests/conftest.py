"""Shared fixtures: the repository root, and one strict build of the site per test session (into a
temporary folder; lessons whose dependencies did not change come from the execution cache)."""

import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# the book's settings, written once in pyproject.toml ([tool.book])
BOOK = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["book"]
SPHINX_OPTIONS = BOOK["sphinx-options"]  # the strict build's options, shared with nox and bench
CHROMIUM_FLAGS = BOOK["chromium-flags"]  # headless Chromium, shared with `nox -s webperf`


def lesson(title: str, *cells: str, prose: str = "") -> str:
    """A lesson in the book's format (a MyST notebook run by a Python 3 kernel): a title, optional
    prose, then one code cell per string of ``cells``."""
    front = (
        "---\nfile_format: mystnb\nkernelspec:\n  name: python3\n  display_name: Python 3\n---\n"
    )
    body = "".join(f"\n```{{code-cell}} ipython3\n{cell}\n```\n" for cell in cells)
    return f"{front}\n# {title}\n" + (f"\n{prose}\n" if prose else "") + body


def sphinx_build(
    srcdir: Path, outdir: Path, env: dict | None = None
) -> subprocess.CompletedProcess:
    """Run the book's strict build (the same flags as `nox -s docs`) and capture its output."""
    cmd = [sys.executable, "-m", "sphinx", *SPHINX_OPTIONS]
    cmd += [str(srcdir), str(outdir), "-d", str(outdir.parent / "doctrees")]
    return subprocess.run(cmd, capture_output=True, text=True, cwd=srcdir, env=env)


@pytest.fixture(scope="session")
def site(tmp_path_factory) -> Path:
    """The built site: GRADFLOW_SITE if it names a build, else a fresh build made for this session."""
    prebuilt = os.environ.get("GRADFLOW_SITE")
    if prebuilt:
        path = Path(prebuilt)
        assert (path / "index.html").is_file(), f"GRADFLOW_SITE={prebuilt} holds no built site"
        return path
    outdir = tmp_path_factory.mktemp("site") / "html"
    result = sphinx_build(ROOT, outdir)
    assert result.returncode == 0, (
        f"the site build failed:\n{result.stdout[-5000:]}\n{result.stderr[-5000:]}"
    )
    return outdir


@pytest.fixture(scope="session")
def digits():
    """The handwritten digits with the lessons' fixed split (seed 0), loaded once per session."""
    from gradflow.data import load_digits

    return load_digits()
