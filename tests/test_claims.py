"""Protects the book's named claims and its one result per machine: rules read as written, margins
as derived by hand, a failed claim that names chapter, claim, value and rule, bad input rejected,
the seed offset reaching every seeded draw of the package, and the built site's claims file listing
every lesson's claims, each held, none of them a bare assert in a lesson."""

import json
import math
import re

import pytest
import torch

from conftest import ROOT
from gradflow import claims
from gradflow.claims import ClaimFailed, begin_chapter, check_shape, claim, margin, parse_rule
from gradflow.data import load_digits
from gradflow.init import book_seed, generator, seeded


@pytest.mark.parametrize(
    "rule, interval",
    [
        ("> 2", (2.0, math.inf)),
        (">= 0", (0.0, math.inf)),
        ("< 1e-6", (-math.inf, 1e-6)),
        ("<=-3", (-math.inf, -3.0)),
        ("in [0.5, 2]", (0.5, 2.0)),
    ],
)
def test_rules_read_as_written(rule, interval):
    assert parse_rule(rule) == interval


@pytest.mark.parametrize("rule", ["= 2", "> two", "between 1 and 2", "in [2, 1]", "in [1, 1]", ""])
def test_unreadable_rules_are_rejected(rule):
    with pytest.raises(ValueError, match="rule"):
        parse_rule(rule)


def test_a_rule_must_be_a_string():
    with pytest.raises(TypeError, match="rule"):
        parse_rule(2)


@pytest.mark.parametrize(
    "value, rule, expected",
    [
        (3.0, "> 2", 0.5),  # (3 - 2) / 2
        (1.0, "> 2", -0.5),
        (1e-7, "< 1e-6", 0.9),  # (1e-6 - 1e-7) / 1e-6
        (1.5, "in [0.5, 2]", 0.25),  # nearer edge 2: (2 - 1.5) / 2
        (0.6, "in [0.5, 2]", 0.2),  # nearer edge 0.5: (0.6 - 0.5) / 0.5
        (0.25, "> 0", 0.25),  # an edge at zero counts absolutely
    ],
)
def test_margin_derived_by_hand(value, rule, expected):
    assert margin(value, rule) == pytest.approx(expected)


def test_a_claim_that_holds_returns_its_value(monkeypatch):
    monkeypatch.setattr(claims, "_chapter", "a chapter")
    assert claim("three beats two", torch.tensor(3.0), "> 2") == 3.0


def test_a_failed_claim_names_chapter_claim_value_and_rule(monkeypatch):
    monkeypatch.delenv("GRADFLOW_CLAIMS_KEEP_GOING", raising=False)
    monkeypatch.setattr(claims, "_chapter", "shortcuts_in_training")
    with pytest.raises(ClaimFailed) as failure:
        claim("rises about equal at 0.5", 3.23, "in [0.5, 2]")
    message = str(failure.value)
    for part in ("shortcuts_in_training", "rises about equal at 0.5", "3.23", "in [0.5, 2]"):
        assert part in message
    assert "differs on this machine" in message
    assert isinstance(failure.value, AssertionError)  # a raising cell: the build stops


def test_nan_never_satisfies_a_claim(monkeypatch):
    monkeypatch.delenv("GRADFLOW_CLAIMS_KEEP_GOING", raising=False)
    with pytest.raises(ClaimFailed):
        claim("finite", float("nan"), "< 1")


@pytest.mark.parametrize("name, value", [("", 1.0), (None, 1.0), ("a claim", "large")])
def test_bad_claims_are_rejected(name, value):
    with pytest.raises(TypeError):
        claim(name, value, "> 0")


def test_records_go_to_the_claims_file_and_keep_going_records_failures(tmp_path, monkeypatch):
    path = tmp_path / "claims.jsonl"
    monkeypatch.setenv("GRADFLOW_CLAIMS_FILE", str(path))
    monkeypatch.setenv("GRADFLOW_CLAIMS_KEEP_GOING", "1")
    monkeypatch.setattr(claims, "_chapter", "ch")
    claim("holds", 3, "> 2")
    claim("fails", 1, "> 2")
    claim("unbounded", math.inf, "> 2")
    held, failed, unbounded = [json.loads(line) for line in path.read_text().splitlines()]
    assert held == {
        "chapter": "ch", "name": "holds", "value": 3.0, "rule": "> 2", "margin": 0.5, "holds": True
    }  # fmt: skip
    assert failed["holds"] is False and failed["margin"] == pytest.approx(-0.5)
    assert unbounded["value"] is None and unbounded["margin"] is None and unbounded["holds"]


def test_begin_chapter_fixes_threads_and_determinism(monkeypatch):
    threads, deterministic = torch.get_num_threads(), torch.are_deterministic_algorithms_enabled()
    try:
        monkeypatch.delenv("GRADFLOW_THREADS", raising=False)
        begin_chapter("a chapter")
        assert torch.get_num_threads() == 1 and torch.are_deterministic_algorithms_enabled()
        monkeypatch.setenv("GRADFLOW_THREADS", "2")
        begin_chapter("a chapter")
        assert torch.get_num_threads() == 2
        monkeypatch.setenv("GRADFLOW_THREADS", "two")
        with pytest.raises(ValueError, match="GRADFLOW_THREADS"):
            begin_chapter("a chapter")
        with pytest.raises(TypeError, match="chapter"):
            begin_chapter("")
    finally:
        torch.set_num_threads(threads)
        torch.use_deterministic_algorithms(deterministic)


def test_check_shape():
    check_shape(torch.zeros(2, 3), (2, 3))
    with pytest.raises(ValueError, match=r"expected shape \(2, 4\), got \(2, 3\)"):
        check_shape(torch.zeros(2, 3), (2, 4))


def test_the_seed_offset_shifts_every_seeded_draw(monkeypatch):
    monkeypatch.delenv("GRADFLOW_SEED_OFFSET", raising=False)
    assert book_seed(3) == 3
    with seeded(3):
        plain = torch.rand(4)
    by_generator = torch.rand(4, generator=generator(3))
    split = load_digits().y_test[:20]
    monkeypatch.setenv("GRADFLOW_SEED_OFFSET", "100")
    assert book_seed(3) == 103
    with seeded(3):
        shifted = torch.rand(4)
    assert torch.equal(shifted, torch.rand(4, generator=torch.Generator().manual_seed(103)))
    assert not torch.equal(shifted, plain)
    assert not torch.equal(torch.rand(4, generator=generator(3)), by_generator)
    assert not torch.equal(load_digits().y_test[:20], split)  # the data's split moves too
    monkeypatch.setenv("GRADFLOW_SEED_OFFSET", "1.5")
    with pytest.raises(ValueError, match="GRADFLOW_SEED_OFFSET"):
        book_seed(3)


def test_no_lesson_guards_with_a_bare_assert():
    for path in sorted((ROOT / "lessons").glob("*.md")):
        bare = [
            n
            for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
            if re.match(r"\s*assert\b", line)
        ]
        assert not bare, f"{path.name}: bare assert on line(s) {bare}; use gradflow.claims.claim"


@pytest.mark.site
def test_the_build_lists_every_claim_of_every_chapter(site):
    records = json.loads((site.parent / "claims.json").read_text())
    lessons = sorted(p.stem for p in (ROOT / "lessons").glob("*.md"))
    assert sorted({r["chapter"] for r in records}) == lessons  # every chapter makes claims
    assert all(r["page"] == f"lessons/{r['chapter']}" for r in records)  # named after its page
    names = [(r["chapter"], r["name"]) for r in records]
    assert len(names) == len(set(names)), "a claim's name is used twice in one chapter"
    for r in records:
        assert r["holds"] and set(r) == {
            "page",
            "chapter",
            "name",
            "value",
            "rule",
            "margin",
            "holds",
        }
        assert r["margin"] is None or r["margin"] > 0 or "=" in r["rule"]
        if r["value"] is not None and r["margin"] is not None:
            assert r["margin"] == pytest.approx(margin(r["value"], r["rule"]))
