"""Protects the build engine's dependency analysis (bookbuild.deps) on small packages and lessons
written into a temporary folder: a lesson depends on its code cells, on every module of the package
it reaches (directly, transitively, through `from package import module`, through a package's
__init__), on files its code names, and on the versions of the packages it runs with (not test or
lint tools); a module nobody imports and an import under `if TYPE_CHECKING:` are not dependencies;
what parsing found, kept between builds, never hides an edit. On the book itself: an edit to one
chapter's experiment or figure module executes that chapter alone, an edit to a model executes only
the chapters that use it, and the classifier's chapters do not depend on the sequence task."""

import textwrap
from pathlib import Path

import pytest

from bookbuild import deps
from conftest import lesson as lesson_text


@pytest.fixture
def book(tmp_path):
    """A root with code/gradflow (a, b imports c, d unused, sub/ a package) and a constraints file."""
    pkg = tmp_path / "code" / "gradflow"
    (pkg / "sub").mkdir(parents=True)
    files = {
        "__init__.py": '"""package"""\n',
        "a.py": "X = 1\n",
        "b.py": "from gradflow.c import Y\n",
        "c.py": "from . import e\nY = 2\n",
        "d.py": "Z = 3\n",
        "e.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import gradflow.d\n",
        "sub/__init__.py": "from .f import W\n",
        "sub/f.py": "W = 4\n",
    }
    for name, text in files.items():
        (pkg / name).write_text(text)
    (tmp_path / ".ci").mkdir()
    (tmp_path / ".ci" / "constraints.txt").write_text("torch==2.13.0\n")
    (tmp_path / "lessons").mkdir()
    return tmp_path


def lesson(book, code, name="lesson.md"):
    path = book / "lessons" / name
    path.write_text(
        lesson_text("A lesson", textwrap.dedent(code).strip(), prose="Prose that is not code.")
    )
    return path


def modules(book, path):
    return sorted(k for k in deps.fingerprint(path, book) if k.startswith("code/"))


def test_direct_import(book):
    path = lesson(book, "import gradflow.a")
    assert modules(book, path) == ["code/gradflow/__init__.py", "code/gradflow/a.py"]


def test_transitive_and_relative_imports(book):
    path = lesson(book, "from gradflow.b import Y")
    expected = ["__init__.py", "b.py", "c.py", "e.py"]  # b -> c -> e; e's d is for types only
    assert modules(book, path) == [f"code/gradflow/{m}" for m in expected]


def test_from_package_import_module_and_subpackage(book):
    path = lesson(book, "from gradflow import a\nfrom gradflow.sub import W")
    expected = ["__init__.py", "a.py", "sub/__init__.py", "sub/f.py"]
    assert modules(book, path) == [f"code/gradflow/{m}" for m in expected]


def test_module_nobody_imports_is_not_a_dependency(book):
    path = lesson(book, "import math\nimport gradflow.a")
    assert "code/gradflow/d.py" not in deps.fingerprint(path, book)


def test_a_change_is_named(book):
    path = lesson(book, "from gradflow.b import Y")
    before = deps.fingerprint(path, book)
    (book / "code" / "gradflow" / "c.py").write_text("from . import e\nY = 3\n")
    assert deps.changes(before, deps.fingerprint(path, book)) == ["code/gradflow/c.py"]
    (book / "code" / "gradflow" / "d.py").write_text("Z = 4\n")  # not reached: no change
    assert deps.fingerprint(path, book) == deps.fingerprint(path, book)


def test_prose_edit_changes_nothing_and_code_edit_does(book):
    path = lesson(book, "import gradflow.a")
    before = deps.fingerprint(path, book)
    path.write_text(path.read_text().replace("Prose that is not code.", "Other prose."))
    assert deps.fingerprint(path, book) == before
    path.write_text(path.read_text().replace("import gradflow.a", "import gradflow.a  # edit"))
    assert deps.changes(before, deps.fingerprint(path, book)) == ["code cells"]


def test_the_runtime_packages_are_what_the_lessons_run_with():
    from importlib.metadata import version

    runtime = deps.runtime_packages()
    for name in ("torch", "numpy", "matplotlib", "myst-nb", "ipykernel", "jupyter-cache"):
        assert runtime[name] == version(name)  # the package, its docs extra, and theirs
    for tool in ("pytest", "ruff", "playwright", "check-jsonschema"):
        assert tool not in runtime  # test and lint tools never run a lesson
    assert "gradflow" not in runtime  # its code is hashed file by file


def test_a_runtime_package_version_is_a_dependency(book, monkeypatch):
    path = lesson(book, "import gradflow.a")
    before = deps.fingerprint(path, book)
    (book / ".ci" / "constraints.txt").write_text("torch==2.13.0\nruff==0.0.1\n")
    assert deps.fingerprint(path, book) == before  # a pin of a tool changes nothing
    runtime = deps.runtime_packages()
    monkeypatch.setattr(deps, "runtime_packages", lambda: {**runtime, "numpy": "0.0.1"})
    assert deps.changes(before, deps.fingerprint(path, book)) == ["environment"]


@pytest.mark.parametrize("name", ["GRADFLOW_SEED_OFFSET", "ATEN_CPU_CAPABILITY"])
def test_a_seed_offset_or_kernel_path_is_a_dependency(book, monkeypatch, name):
    path = lesson(book, "import gradflow.a")
    monkeypatch.delenv(name, raising=False)
    before = deps.fingerprint(path, book)
    monkeypatch.setenv("SOME_OTHER_VARIABLE", "1")
    assert deps.fingerprint(path, book) == before  # only the variables that change the results
    monkeypatch.setenv(name, "100")
    assert deps.changes(before, deps.fingerprint(path, book)) == ["environment variables"]


def test_a_file_the_code_reads_is_a_dependency(book):
    (book / "lessons" / "table.csv").write_text("1,2\n")
    path = lesson(book, "open('table.csv').read()")
    before = deps.fingerprint(path, book)
    assert "lessons/table.csv" in before
    (book / "lessons" / "table.csv").write_text("1,3\n")
    assert deps.changes(before, deps.fingerprint(path, book)) == ["lessons/table.csv"]


def test_parses_kept_between_builds_never_hide_an_edit(book, tmp_path):
    """What parsing found, kept in a file from one build to the next (deps.Parses), gives the
    fingerprint that parsing afresh gives, after a new import and an edited code cell too."""
    kept = tmp_path / "doctrees" / "parses.json"
    path = lesson(book, "from gradflow.b import Y")

    def build() -> dict[str, str]:
        parses = deps.Parses(kept)
        found = deps.fingerprint(path, book, runtime=deps.environment(book, parses), parses=parses)
        parses.save()
        return found

    first = build()
    assert kept.is_file() and build() == first == deps.fingerprint(path, book)
    (book / "code" / "gradflow" / "c.py").write_text("from . import d, e\nY = 2\n")  # a new import
    assert "code/gradflow/d.py" in build()
    (book / "lessons" / "table.csv").write_text("1,2\n")
    path.write_text(path.read_text().replace("import Y", "import Y\nopen('table.csv')"))
    assert "lessons/table.csv" in build()
    assert build() == deps.fingerprint(path, book)


def test_parses_kept_by_another_parser_are_not_used(tmp_path, monkeypatch):
    """A kept result is found again by the same parser only: another environment (another
    MyST-NB, another Python) parses again; so does a file cut short."""
    kept = tmp_path / "parses.json"
    parses = deps.Parses(kept)
    assert parses.imports("import gradflow.a") == {"gradflow.a"}
    parses.save()
    again = deps.Parses(kept).get("imports of ", "import gradflow.a", lambda: ["parsed again"])
    assert again == ["gradflow.a"]  # found, not parsed again
    monkeypatch.setattr(deps, "installed_metadata", lambda: "other packages")
    monkeypatch.setattr(deps, "runtime_packages", lambda: {"myst-nb": "0.0.1"})
    other = deps.Parses(kept).get("imports of ", "import gradflow.a", lambda: ["parsed again"])
    assert other == ["parsed again"]
    kept.write_text('{"cut')
    assert deps.Parses(kept).imports("import gradflow.b") == {"gradflow.b"}


def test_first_build_says_so(book):
    path = lesson(book, "import gradflow.a")
    assert deps.changes(None, deps.fingerprint(path, book)) == ["not executed before"]


# ---- the book's own lessons -------------------------------------------------------------------

ROOT = Path(__file__).resolve().parents[1]
MLP_CHAPTERS = {
    "vanishing_gradients",
    "shortcut_connections",
    "shortcuts_in_training",
    "why_residuals_work",
}
GPT_CHAPTERS = {"transformer_block", "training_transformers"}
CHAPTERS = sorted(MLP_CHAPTERS | GPT_CHAPTERS)
# what each model is, and which chapters use it (the lessons' own "Code of this chapter" lines)
MODELS = {"code/gradflow/mlp.py": MLP_CHAPTERS, "code/gradflow/gpt.py": GPT_CHAPTERS}


@pytest.fixture(scope="module")
def book_dependencies():
    """Each lesson's dependencies as the build computes them: the keys of its fingerprint (the
    environment's hash, the same for every lesson, is left out: it takes seconds to compute)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(deps, "environment", lambda root, parses=None: "")
        return {c: set(deps.fingerprint(ROOT / "lessons" / f"{c}.md", ROOT)) for c in CHAPTERS}


def test_every_lesson_is_a_chapter_with_its_own_modules():
    assert sorted(p.stem for p in (ROOT / "lessons").glob("*.md")) == CHAPTERS
    for chapter in CHAPTERS:
        for folder in ("experiments", "plots"):
            assert (ROOT / "code" / "gradflow" / folder / f"{chapter}.py").is_file()


@pytest.mark.parametrize("folder", ["experiments", "plots"])
@pytest.mark.parametrize("chapter", CHAPTERS)
def test_a_chapters_experiment_and_figure_modules_execute_that_chapter_alone(
    book_dependencies, chapter, folder
):
    module = f"code/gradflow/{folder}/{chapter}.py"
    users = {c for c, keys in book_dependencies.items() if module in keys}
    assert users == {chapter}


@pytest.mark.parametrize("model", sorted(MODELS))
def test_a_model_executes_only_the_chapters_that_use_it(book_dependencies, model):
    users = {c for c, keys in book_dependencies.items() if model in keys}
    assert users == MODELS[model]


def test_the_classifiers_chapters_do_not_depend_on_the_sequence_task(book_dependencies):
    for chapter in MLP_CHAPTERS:
        assert "code/gradflow/tasks.py" not in book_dependencies[chapter]
    for chapter in GPT_CHAPTERS - {"transformer_block"}:  # the chapter that trains on it
        assert "code/gradflow/tasks.py" in book_dependencies[chapter]


@pytest.mark.parametrize("module", ["explorer", "chart", "axes"])
def test_the_explorer_executes_only_the_chapters_that_show_one(book_dependencies, module):
    """The component (the explorer, its chart and the chart's axes) is a dependency of the chapters
    whose figure module builds an explorer, and of no other (no shared module such as
    gradflow.display brings it in)."""
    users = {c for c, keys in book_dependencies.items() if f"code/gradflow/{module}.py" in keys}
    plots = ROOT / "code" / "gradflow" / "plots"
    shows = {c for c in book_dependencies if "gradflow.explorer" in (plots / f"{c}.py").read_text()}
    assert users == shows
