"""What a lesson depends on: its code cells, every module of the book's package that they import
(directly or through other modules of the package), the files they name, and the pinned
environment. Each dependency is hashed, so a change can be named.

Finding the dependencies means parsing: each lesson with MyST-NB's reader, each module with ``ast``,
each installed package's metadata. ``Parses`` keeps what parsing found, by the digest of the text
parsed, in a file between builds, so a build parses only the texts that changed."""

import ast
import functools
import hashlib
import json
import os
import platform
import re
import sys
from collections.abc import Callable, Iterable
from importlib.metadata import PackageNotFoundError, distribution, distributions
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


def package_files(
    names: Iterable[str], code_dir: Path, package: str = PACKAGE, parses: "Parses | None" = None
) -> set[Path]:
    """Every file of ``package`` that importing ``names`` executes, followed transitively."""
    parses = parses or Parses()
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
                for n in parses.imports(path.read_text(encoding="utf-8"), home)
                if n == package or n.startswith(package + ".")
            ]
    return files


def read_lesson(text: str):
    """A MyST-NB lesson's text as the notebook MyST-NB reads, with the first source line of each
    cell in its metadata (``source_map``)."""
    from myst_nb.core.read import read_myst_markdown_notebook

    return read_myst_markdown_notebook(text, add_source_map=True)


def lesson_code(path: Path, parses: "Parses | None" = None) -> str:
    """The code cells of a MyST-NB lesson, joined in order."""
    notebook = (parses or Parses()).notebook(path.read_text(encoding="utf-8"))
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


def environment(root: Path, parses: "Parses | None" = None) -> str:
    """What the lessons execute with, as text: Python's version and every runtime package's (torch
    among them). Tools that never run a lesson (ruff, pytest) are not part of it. ``parses`` (with
    a file) keeps it between builds, by the installed packages' metadata."""
    if parses is not None and parses.path is not None:
        return parses.environment()
    lines = [f"python {platform.python_version()}"]
    lines += [f"{name} {v}" for name, v in sorted(runtime_packages().items())]
    return "\n".join(lines)


def installed_metadata() -> str:
    """Everything ``runtime_packages`` reads, as one text: Python's version and each installed
    distribution's metadata and requirements, in the order the import path finds them (the order
    that decides which of two copies is found). Reading it is fast; parsing it (and every
    requirement in it) is what takes a second."""
    files = ("METADATA", "PKG-INFO", "requires.txt")
    texts = ["\n".join(d.read_text(name) or "" for name in files) for d in distributions()]
    return "\0".join([sys.version, *texts])


def variables() -> str:
    """The variables of RUNTIME_VARIABLES that are set, as text: a build with another seed offset
    or kernel path executes again instead of reusing another setting's results."""
    return "\n".join(
        f"{name}={os.environ[name]}" for name in RUNTIME_VARIABLES if name in os.environ
    )


def fingerprint(
    lesson: Path,
    root: Path,
    code_dir: Path | None = None,
    runtime: str | None = None,
    parses: "Parses | None" = None,
) -> dict[str, str]:
    """A hash for each thing ``lesson`` depends on, keyed by what it is (paths relative to root).

    ``runtime`` is ``environment(root)`` where the caller has it already: reading every installed
    package's metadata is most of a fingerprint's cost, and one build needs it once. ``parses``
    keeps what parsing found between lessons and builds."""
    code_dir = code_dir or root / "code"
    parses = parses or Parses()
    code = lesson_code(lesson, parses)
    hashes = {
        "code cells": _digest(code.encode()),
        "environment": _digest((runtime or environment(root, parses)).encode()),
        "environment variables": _digest(variables().encode()),
    }
    files = package_files(parses.imports(code), code_dir, parses=parses)
    sources = [code] + [f.read_text(encoding="utf-8") for f in files]
    for text in sources:  # files named in the code, relative to the lesson (its working directory)
        for name in parses.strings(text):
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


class Parses:
    """What parsing found in each text, by the text's digest: a module's imports and string
    constants, a lesson's notebook, and the environment that the installed packages' metadata
    describes.

    A text parses the same every time, so with ``path`` (a JSON file) the results are kept between
    builds and a build parses only the texts that changed. Each result is keyed on the parser too:
    this module's source (how a text is parsed) and the environment's text (the versions of Python,
    MyST-NB and what it reads with); the environment itself on this module's source alone. A result
    of another parser is never found, and ``save`` keeps only the results this build used."""

    def __init__(self, path: Path | None = None):
        self.path, self.used, self.saved = path, {}, {}
        self._parser = "" if path is None else None  # in memory, one process: no parser changes
        if path is not None and path.is_file():
            try:
                saved = json.loads(path.read_text(encoding="utf-8"))
            except ValueError:  # a file cut short: everything is parsed again
                saved = {}
            self.saved = saved if isinstance(saved, dict) else {}

    def get(self, kind: str, text: str, parse: Callable[[], object], parser: str | None = None):
        """What ``parse`` finds in ``text`` (a JSON value), parsed once for each ``kind`` and text
        by each ``parser`` (this parser by default)."""
        key = self.parser if parser is None else parser
        digest = _digest("\0".join([key, kind, text]).encode())
        if digest not in self.used:
            found = self.saved.get(digest)
            # through JSON, as it would come back from the file: a result has one form
            self.used[digest] = json.loads(json.dumps(parse())) if found is None else found
        return self.used[digest]

    @property
    def parser(self) -> str:
        """The parser's key: this module's source and the environment's text."""
        if self._parser is None:
            self._parser = _digest(
                (_digest(Path(__file__).read_bytes()) + self.environment()).encode()
            )
        return self._parser

    def environment(self) -> str:
        """``environment()``, by the installed packages' metadata and this module's source."""
        own = "" if self.path is None else _digest(Path(__file__).read_bytes())
        return self.get("environment", installed_metadata(), lambda: environment(Path()), own)

    def imports(self, source: str, package: str = "") -> frozenset[str]:
        """``imported_modules(source, package)``."""
        parse = lambda: sorted(imported_modules(source, package))  # noqa: E731
        return frozenset(self.get(f"imports of {package}", source, parse))

    def strings(self, source: str) -> set[str]:
        """``named_strings(source)``."""
        return set(self.get("strings", source, lambda: sorted(named_strings(source))))

    def notebook(self, text: str):
        """``read_lesson(text)``, as a notebook of the caller's own, which it may change."""
        import nbformat

        return nbformat.from_dict(self.get("notebook", text, lambda: read_lesson(text)))

    def save(self) -> None:
        """Write the results this build used to the file, if they differ from what it holds."""
        if self.path is not None and self.used != self.saved:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.path.write_text(json.dumps(self.used, sort_keys=True), encoding="utf-8")
