"""Sessions: `nox -s docs` builds the book, `nox -s pdf` its PDF edition, `nox -s tests` tests package
and site, `nox -s lint`."""

import shutil
import tomllib
from pathlib import Path

import nox

nox.needs_version = ">=2024.3.2"
nox.options.default_venv_backend = "virtualenv"  # pip, which finds the local CPU wheel of torch
nox.options.sessions = ["lint", "tests"]

ROOT = Path(__file__).parent
CONSTRAINTS = ("-c", str(ROOT / ".ci" / "constraints.txt"))
# The strict build's options live in pyproject.toml ([tool.book]), shared with the tests and bench
SPHINX = [
    "sphinx-build",
    *tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["book"]["sphinx-options"],
]


def install(session: nox.Session, extras: str) -> None:
    """Install gradflow editable, with the given extras, against the pinned constraints."""
    session.install(*CONSTRAINTS, "-e", f".[{extras}]")


@nox.session
def docs(session: nox.Session) -> None:
    """Build the site into _build/html, executing the lessons whose dependencies changed.

    `nox -s docs -- --fresh` forgets the execution cache and the pages first (a clean build, like
    `rm -rf _build`); any other arguments go to sphinx-build.
    """
    install(session, "docs")
    args = list(session.posargs)
    if "--fresh" in args:
        args.remove("--fresh")
        for folder in ("html", "doctrees", "jupyter_execute", ".jupyter_cache"):
            shutil.rmtree(ROOT / "_build" / folder, ignore_errors=True)
    session.run(*SPHINX, ".", "_build/html", "-d", "_build/doctrees", *args)
    session.log(f"Open {ROOT / '_build' / 'html' / 'index.html'} in a browser.")


@nox.session
def pdf(session: nox.Session) -> None:
    """Build the PDF edition into _build/pdf/ and copy it into the site (_build/html/).

    It reads the site's doctrees and execution cache: after `nox -s docs` no lesson executes again.
    Needs TeX Live (see the README); a LaTeX error or code running off the page fails it.
    """
    install(session, "docs")
    session.run("python", "-m", "bookbuild.pdf", *session.posargs)


@nox.session
def tests(session: nox.Session) -> None:
    """Run the unit tests and the tests of a freshly built site, one worker per core (each test
    file stays on one worker; the workers share one build of the site: tests/conftest.py).
    ``-- -m unit`` runs the unit tier, ``-- -n 0`` one process."""
    install(session, "docs,test")
    session.run("pytest", "-n", "auto", "--dist", "loadfile", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    """Check formatting and lint with ruff."""
    session.install(*CONSTRAINTS, "ruff")  # ruff reads the code as text: no need for the package
    session.run("ruff", "format", "--check", ".")
    session.run("ruff", "check", ".")


@nox.session
def bench(session: nox.Session) -> None:
    """Time each lesson's bare execution, a clean build and rebuilds after small edits."""
    install(session, "docs")
    session.run("python", ".ci/bench.py", *session.posargs)


@nox.session
def robustness(session: nox.Session) -> None:
    """Run every lesson under other kernel paths, thread counts and seeds; table every claim."""
    install(session, "docs")
    session.run("python", ".ci/robustness.py", *session.posargs)


@nox.session
def serve(session: nox.Session) -> None:
    """Live preview on http://127.0.0.1:8000: rebuild on save (same cache as docs), reload the page."""
    install(session, "docs")
    ignore = ["_build", ".nox", ".git", ".ruff_cache", ".pytest_cache", "tests", ".ci"]
    session.run(
        "sphinx-autobuild",
        *SPHINX[1:],
        *[arg for pattern in ignore for arg in ("--ignore", f"*/{pattern}/*")],
        "--host",
        "127.0.0.1",
        "--port",
        "8000",
        ".",
        "_build/html",
        "-d",
        "_build/doctrees",
        *session.posargs,
    )


@nox.session(venv_backend="none")
def webperf(session: nox.Session) -> None:
    """Lighthouse scores and page weight of the built site, served gzipped (build it first)."""
    session.run("python3", ".ci/webperf.py", *session.posargs)
