"""What a lesson depends on: its code cells, every module of the book's package that they import
(directly or through other modules of the package), the files they name, and the pinned
environment. Each dependency is hashed, so a change can be named."""

import ast
import functools
import hashlib
import os
import platform
import re
from collections.abc import Iterable
from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path

from packaging.requirements import Requirement

from bookbuild import DISTRIBUTION  # the installed distribution that brings PACKAGE

PACKAGE = "gradflow"  # the package whose modules the lessons import
RUNTIME_EXTRAS = ("docs",)  # what the lessons execute with: the package, its docs extra, and theirs
# Variables that change what a lesson computes: the book's seed offset and thread count
# (gradflow.init, gradflow.claims) and the kernel paths of ATen and MKL (see .ci/robustness.py)
RUNTIME_VARIABLES = ("GRADFLOW_SEED_OFFSET", "GRADFLOW_THREADS", "ATEN_CPU_CAPABILITY", "MKL_CBWR")


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _python(source: str) -> ast.Module:
    """Parse a cell or module; IPython magics and shell escapes are not Python and are skipped."""
    lines = [line for line in source.splitlines() if not line.lstrip().startswith(("%", "!"))]
    return ast.parse("\n".join(lines))


def _runtime_nodes(tree: ast.AST):
    """Every node of ``tree`` except those under ``if TYPE_CHECKING:``, which never run."""
    for node in ast.iter_child_nodes(tree):
        test = node.test if isinstance(node, ast.If) else None
        if test is not None and ast.unparse(test) in ("TYPE_CHECKING", "typing.TYPE_CHECKING"):
            yield from (n for child in node.orelse for n in [child, *_runtime_nodes(child)])
            continue
        yield node
        yield from _runtime_nodes(node)


@functools.cache  # the lessons share most modules: each text is parsed once per process
def imported_modules(source: str, package: str = "") -> frozenset[str]:
    """The absolute names of the modules ``source`` imports (``package`` resolves relative imports).

    ``from a import b`` gives both ``a`` and ``a.b``, since ``b`` may be a module. Imports under
    ``if TYPE_CHECKING:`` are left out: they never run.
    """
    names = set()
    for node in _runtime_nodes(_python(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: climb from the importing module's package
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parts, node.module] if node.module else parts)
            else:
                base = node.module
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return frozenset(names)


def named_strings(source: str) -> set[str]:
    """Every string constant in ``source``: the candidates for files the code reads."""
    tree = _python(source)
    return {
        n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)
    }


def module_file(name: str, code_dir: Path) -> Path | None:
    """The source file of module ``name`` under ``code_dir``, or None if it is not there."""
    base = code_dir.joinpath(*name.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def package_files(names: Iterable[str], code_dir: Path, package: str = PACKAGE) -> set[Path]:
    """Every file of ``package`` that importing ``names`` executes, followed transitively."""
    todo = [n for n in names if n == package or n.startswith(package + ".")]
    seen: set[str] = set()
    files: set[Path] = set()
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        parts = name.split(".")
        for i in range(1, len(parts) + 1):  # importing a.b.c runs a/__init__.py and a/b/__init__.py
            module = ".".join(parts[:i])
            path = module_file(module, code_dir)
            if path is None or path in files:
                continue
            files.add(path)
            home = module if path.name == "__init__.py" else ".".join(parts[: i - 1])
            todo += [
                n
                for n in imported_modules(path.read_text(encoding="utf-8"), home)
                if n == package or n.startswith(package + ".")
            ]
    return files


def lesson_code(path: Path) -> str:
    """The code cells of a MyST-NB lesson, joined in order."""
    from myst_nb.core.read import read_myst_markdown_notebook

    notebook = read_myst_markdown_notebook(path.read_text(encoding="utf-8"))
    return "\n\n".join(cell.source for cell in notebook.cells if cell.cell_type == "code")


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def runtime_packages(package: str = DISTRIBUTION, extras: Iterable[str] = RUNTIME_EXTRAS) -> dict:
    """The installed version of every package ``package`` needs at run time with ``extras``,
    followed through their own requirements (``package`` itself, editable, is hashed as code)."""
    versions: dict[str, str] = {}
    todo, seen = [(package, tuple(extras))], set()
    while todo:
        name, wanted = todo.pop()
        if (_canonical(name), wanted) in seen:
            continue
        seen.add((_canonical(name), wanted))
        try:
            dist = distribution(name)
        except PackageNotFoundError:
            versions.setdefault(_canonical(name), "not installed")
            continue
        if _canonical(name) != _canonical(package):
            versions[_canonical(name)] = dist.version
        for text in dist.requires or []:
            req = Requirement(text)
            if req.marker is None or any(req.marker.evaluate({"extra": e}) for e in (*wanted, "")):
                todo.append((req.name, tuple(sorted(req.extras))))
    return versions


def environment(root: Path) -> str:
    """What the lessons execute with, as text: Python's version and every runtime package's (torch
    among them). Tools that never run a lesson (ruff, pytest) are not part of it."""
    lines = [f"python {platform.python_version()}"]
    lines += [f"{name} {v}" for name, v in sorted(runtime_packages().items())]
    return "\n".join(lines)


def variables() -> str:
    """The variables of RUNTIME_VARIABLES that are set, as text: a build with another seed offset
    or kernel path executes again instead of reusing another setting's results."""
    return "\n".join(
        f"{name}={os.environ[name]}" for name in RUNTIME_VARIABLES if name in os.environ
    )


def fingerprint(
    lesson: Path, root: Path, code_dir: Path | None = None, runtime: str | None = None
) -> dict[str, str]:
    """A hash for each thing ``lesson`` depends on, keyed by what it is (paths relative to root).

    ``runtime`` is ``environment(root)`` where the caller has it already: reading every installed
    package's metadata is most of a fingerprint's cost, and one build needs it once."""
    code_dir = code_dir or root / "code"
    code = lesson_code(lesson)
    hashes = {
        "code cells": _digest(code.encode()),
        "environment": _digest((runtime or environment(root)).encode()),
        "environment variables": _digest(variables().encode()),
    }
    files = package_files(imported_modules(code), code_dir)
    sources = [code] + [f.read_text(encoding="utf-8") for f in files]
    for text in sources:  # files named in the code, relative to the lesson (its working directory)
        for name in named_strings(text):
            candidate = lesson.parent / name
            if len(name) < 200 and "\n" not in name and candidate.is_file():
                files.add(candidate.resolve())
    for path in sorted(files):
        key = path.relative_to(root).as_posix() if path.is_relative_to(root) else str(path)
        hashes[key] = _digest(path.read_bytes())
    return hashes


def changes(old: dict[str, str] | None, new: dict[str, str]) -> list[str]:
    """What differs between two fingerprints, named for the build log."""
    if old is None:
        return ["not executed before"]
    changed = [key for key in new if old.get(key) != new[key]]
    return changed + [f"{key} (no longer imported)" for key in old if key not in new]
