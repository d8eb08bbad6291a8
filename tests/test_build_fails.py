"""Protects the strict build: a lesson whose cell raises must fail the build and show the traceback,
on the first build and the next one alike (a failed claim names itself, its value and its rule),
while the same project with healthy lessons builds and lists their claims in claims.json."""

import json

import pytest

from conftest import lesson, small_book, sphinx_build

pytestmark = pytest.mark.build  # small Sphinx builds of their own: not the unit tier


CLAIM = 'from gradflow.claims import claim\nvalue = claim("two beats {0}", 2, "> {0}")'
RAISING = {  # a lesson's code, and what the build must show of its error
    "divides": ("value = 1 / 0", "ZeroDivisionError"),
    "claims": (CLAIM.format(3), "claim 'two beats 3': measured 2, but the rule is '> 3'"),
}


def test_raising_cells_fail_the_build_every_time(tmp_path):
    """Two raising lessons in one book: the build fails and shows both errors, and so does the
    next build (a failure is not cached as a success); no claims file is written."""
    pages = {name: lesson(name, code) for name, (code, _) in RAISING.items()}
    src = small_book(tmp_path / "src", pages)
    for build in ("first", "second"):
        result = sphinx_build(src, tmp_path / "out" / "html")
        output = result.stdout + result.stderr
        assert result.returncode != 0, f"the {build} build passed with raising cells"
        for name, (_, error) in RAISING.items():
            assert error in output, f"the {build} build did not show {name}'s error"
    assert not (tmp_path / "out" / "claims.json").exists()


def test_healthy_lessons_build_and_list_their_claims(tmp_path):
    pages = {"plain": lesson("Plain", "value = 1 + 1"), "claims": lesson("Claims", CLAIM.format(1))}
    src = small_book(tmp_path / "src", pages)
    result = sphinx_build(src, tmp_path / "out" / "html")
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    records = json.loads((tmp_path / "out" / "claims.json").read_text())
    expected = [{"page": "lessons/claims", "name": "two beats 1", "value": 2.0, "rule": "> 1"}]
    assert [{k: r[k] for k in expected[0]} for r in records] == expected
