"""Shared fixtures: the repository root, and one strict build of the site per test session (into a
temporary folder; lessons whose dependencies did not change come from the execution cache)."""

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from filelock import FileLock

ROOT = Path(__file__).resolve().parents[1]
# the book's settings, written once in pyproject.toml ([tool.book])
BOOK = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["book"]
SPHINX_OPTIONS = BOOK["sphinx-options"]  # the strict build's options, shared with nox and bench
CHROMIUM_FLAGS = BOOK["chromium-flags"]  # headless Chromium, shared with `nox -s webperf`
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")  # Debian's


def lesson(title: str, *cells: str, prose: str = "") -> str:
    """A lesson in the book's format (a MyST notebook run by a Python 3 kernel): a title, optional
    prose, then one code cell per string of ``cells``."""
    front = (
        "---\nfile_format: mystnb\nkernelspec:\n  name: python3\n  display_name: Python 3\n---\n"
    )
    body = "".join(f"\n```{{code-cell}} ipython3\n{cell}\n```\n" for cell in cells)
    return f"{front}\n# {title}\n" + (f"\n{prose}\n" if prose else "") + body


def small_book(src: Path, pages: dict[str, str], drop: tuple[str, ...] = ()) -> Path:
    """A book in ``src`` with the real conf.py and docs/ and the given ``lessons/<name>.md`` pages,
    all in its table of contents. The ledger, the summary and the glossary go (they refer to the
    real lessons), the API reference too (it documents the real package, which the site build
    checks), and so do the ``drop`` pages of docs/."""
    shutil.copytree(ROOT / "docs", src / "docs")
    for page in ("ledger.md", "summary.md", "glossary.md", "api.md", *drop):
        (src / "docs" / page).unlink(missing_ok=True)
    shutil.copy(ROOT / "conf.py", src / "conf.py")
    (src / "lessons").mkdir()
    for name, text in pages.items():
        (src / "lessons" / f"{name}.md").write_text(text)
    docs = sorted(p.stem for p in (src / "docs").glob("*.md") if p.stem != "index")
    toctree = "\n".join([*(f"../lessons/{name}" for name in pages), *docs])
    (src / "docs" / "index.md").write_text(f"# Test book\n\n```{{toctree}}\n{toctree}\n```\n")
    return src


def sphinx_build(
    srcdir: Path, outdir: Path, env: dict | None = None
) -> subprocess.CompletedProcess:
    """Run the book's strict build (the same flags as `nox -s docs`) and capture its output."""
    cmd = [sys.executable, "-m", "sphinx", *SPHINX_OPTIONS]
    cmd += [str(srcdir), str(outdir), "-d", str(outdir.parent / "doctrees")]
    return subprocess.run(cmd, capture_output=True, text=True, cwd=srcdir, env=env)


def pytest_collection_modifyitems(items):
    """Every test that is neither a site test nor a build test belongs to the unit tier."""
    for item in items:
        if not any(any(item.iter_markers(name)) for name in ("site", "build")):
            item.add_marker(pytest.mark.unit)


def pytest_configure(config):
    """One torch thread per test process when pytest-xdist runs several: the workers share the
    cores instead of each claiming all of them."""
    if os.environ.get("PYTEST_XDIST_WORKER"):
        import torch

        torch.set_num_threads(1)


@pytest.fixture(scope="session")
def site(tmp_path_factory) -> Path:
    """The built site: GRADFLOW_SITE if it names a build, else one fresh build for the whole run.

    Run in parallel (``nox -s tests`` passes ``-n auto --dist loadfile`` to pytest-xdist), the
    first worker that needs the site builds it into the run's shared folder while the others wait
    for its lock, then every worker reads the same pages; a failed build is reported to each of
    them, not tried again."""
    prebuilt = os.environ.get("GRADFLOW_SITE")
    if prebuilt:
        path = Path(prebuilt)
        assert (path / "index.html").is_file(), f"GRADFLOW_SITE={prebuilt} holds no built site"
        return path
    shared = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        shared = shared.parent  # the workers' folders share this one
    outdir, log = shared / "site" / "html", shared / "site" / "build.log"
    with FileLock(shared / "site.lock"):
        if not log.exists():
            outdir.mkdir(parents=True, exist_ok=True)
            result = sphinx_build(ROOT, outdir)
            status = "ok" if result.returncode == 0 else "failed"
            log.write_text(f"{status}\n{result.stdout[-5000:]}\n{result.stderr[-5000:]}")
    status, _, output = log.read_text().partition("\n")
    assert status == "ok", f"the site build failed:\n{output}"
    return outdir


@pytest.fixture(scope="session")
def digits():
    """The handwritten digits with the lessons' fixed split (seed 0), loaded once per session."""
    from gradflow.data import load_digits

    return load_digits()


@pytest.fixture(scope="session")
def browser():
    """Debian's Chromium, headless, driven by Playwright: skipped where it is missing, except in CI,
    where that fails."""
    if CHROMIUM is None and os.environ.get("CI"):
        pytest.fail("CI must run the browser tests: apt-get install chromium (see .ci/run)")
    if CHROMIUM is None:
        pytest.skip("needs Chromium: apt-get install chromium")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS, headless=True)
        yield browser
        browser.close()
