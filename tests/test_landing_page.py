"""Protects the landing page and the bibliography: the notation written down once, and every bibliography entry cited somewhere."""

import re

from conftest import ROOT

INDEX = (ROOT / "docs" / "index.md").read_text()


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
