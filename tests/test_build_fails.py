"""Protects the strict build: a lesson whose cell raises must fail the build and show the traceback,
on the first build and the next one alike, while the same project with a healthy lesson builds."""

import shutil

import pytest

from conftest import ROOT, lesson, sphinx_build


@pytest.mark.parametrize(("expr", "fails"), [("1 + 1", False), ("1 / 0", True)])
def test_raising_cell_fails_the_build(tmp_path, expr, fails):
    src = tmp_path / "src"
    shutil.copytree(ROOT / "docs", src / "docs")
    for page in ("ledger.md", "glossary.md"):  # they refer to the real lessons, absent here
        (src / "docs" / page).unlink()
    shutil.copy(ROOT / "conf.py", src / "conf.py")
    (src / "lessons").mkdir()
    (src / "lessons" / "lesson.md").write_text(lesson("A lesson", f"value = {expr}"))
    pages = sorted(p.stem for p in (src / "docs").glob("*.md") if p.stem != "index")
    toctree = "\n".join(["../lessons/lesson", *pages])
    (src / "docs" / "index.md").write_text(f"# Test book\n\n```{{toctree}}\n{toctree}\n```\n")
    result = sphinx_build(src, tmp_path / "out" / "html")
    output = result.stdout + result.stderr
    if fails:
        assert result.returncode != 0, "a raising cell did not fail the build"
        assert "ZeroDivisionError" in output, "the build did not show the cell's error"
        again = sphinx_build(src, tmp_path / "out" / "html")  # the failure was not cached
        assert again.returncode != 0, "the second build passed: a failure was cached as a success"
        assert "ZeroDivisionError" in again.stdout + again.stderr
    else:
        assert result.returncode == 0, output[-3000:]
