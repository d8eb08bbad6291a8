"""Protects the strict build: a lesson whose cell raises must fail the build and show the traceback,
on the first build and the next one alike (a failed claim names itself, its value and its rule),
while the same project with a healthy lesson builds and lists its claims in claims.json."""

import json

import pytest

from conftest import lesson, small_book, sphinx_build

pytestmark = pytest.mark.build  # small Sphinx builds of their own: not the unit tier


CLAIM = 'from gradflow.claims import claim\nvalue = claim("two beats {0}", 2, "> {0}")'


@pytest.mark.parametrize(
    ("code", "error"),
    [
        ("value = 1 + 1", None),
        ("value = 1 / 0", "ZeroDivisionError"),
        (CLAIM.format(1), None),
        (CLAIM.format(3), "claim 'two beats 3': measured 2, but the rule is '> 3'"),
    ],
)
def test_raising_cell_fails_the_build(tmp_path, code, error):
    src = small_book(tmp_path / "src", {"lesson": lesson("A lesson", code)})
    result = sphinx_build(src, tmp_path / "out" / "html")
    output = result.stdout + result.stderr
    if error:
        assert result.returncode != 0, "a raising cell did not fail the build"
        assert error in output, "the build did not show the cell's error"
        again = sphinx_build(src, tmp_path / "out" / "html")  # the failure was not cached
        assert again.returncode != 0, "the second build passed: a failure was cached as a success"
        assert error in again.stdout + again.stderr
        assert not (tmp_path / "out" / "claims.json").exists()
    else:
        assert result.returncode == 0, output[-3000:]
        records = json.loads((tmp_path / "out" / "claims.json").read_text())
        expected = [{"page": "lessons/lesson", "name": "two beats 1", "value": 2.0, "rule": "> 1"}]
        assert [{k: r[k] for k in expected[0]} for r in records] == expected[: len(records)]
        assert len(records) == ("claim" in code)
