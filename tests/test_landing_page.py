"""Protects the landing page and the bibliography: every chapter listed with a reading time that
matches its length, the notation written down once, and every bibliography entry cited somewhere."""

import re

from conftest import ROOT

INDEX = (ROOT / "docs" / "index.md").read_text()
WORDS_PER_MINUTE = 200  # the rate the landing page states


def test_every_chapter_has_a_reading_time_that_matches_its_length():
    listed = dict(re.findall(r"\{doc\}`\.\./lessons/(\w+)`\*\* \(about (\d+) minutes\)", INDEX))
    chapters = {p.stem for p in (ROOT / "lessons").glob("*.md")}
    assert set(listed) <= chapters and listed, "the landing page lists no reading times"
    for chapter, minutes in listed.items():
        words = len((ROOT / "lessons" / f"{chapter}.md").read_text().split())
        estimate = words / WORDS_PER_MINUTE
        assert 0.6 * estimate <= int(minutes) <= 1.5 * estimate, (chapter, minutes, estimate)


def test_notation_names_the_loss_and_the_depth_apart():
    notation = INDEX.split("## Notation", 1)[1].split("\n## ", 1)[0]
    assert r"| $L$ | the depth" in notation
    assert r"| $\mathcal{L}$ | the loss" in notation


def test_every_bibliography_entry_is_cited():
    keys = re.findall(r"^@\w+\{([^,]+),", (ROOT / "docs" / "references.bib").read_text(), re.M)
    pages = [*(ROOT / "lessons").glob("*.md"), *(ROOT / "docs").glob("*.md")]
    text = "\n".join(p.read_text() for p in pages)
    cited = {k for k in keys if re.search(rf"\{{cite:[pt]\}}`[^`]*\b{re.escape(k)}\b", text)}
    assert cited == set(keys), f"never cited: {sorted(set(keys) - cited)}"
