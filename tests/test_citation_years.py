"""Protects author-year citations that tell apart two papers of the same authors and year (issue
23): He et al.'s two 2016 papers read "He et al. [2016a]" and "[2016b]", in the citations and in the
list of references, and any other such pair is lettered the same way (bookbuild.citation)."""

from types import SimpleNamespace

import pybtex_docutils
import pytest
from pybtex.database import parse_string
from sphinxcontrib.bibtex.style.referencing import format_references
from sphinxcontrib.bibtex.style.template import SphinxReferenceInfo

from bookbuild.citation import AlphaDistinct, AuthorYearDistinct, year_suffixes
from conftest import ROOT, lesson, small_book, sphinx_build

BIB = r"""
@article{b, author = {Kaiming He and Xiangyu Zhang and Shaoqing Ren}, title = {Identity mappings},
  journal = {J}, year = {2016}}
@article{a, author = {Kaiming He and Xiangyu Zhang and Shaoqing Ren}, title = {Deep residual},
  journal = {J}, year = {2016}}
@article{c, author = {Kaiming He and Ross Girshick and Piotr Dollar}, title = {Rethinking},
  journal = {J}, year = {2016}}
@article{d, author = {Kaiming He and Xiangyu Zhang and Shaoqing Ren}, title = {Delving},
  journal = {J}, year = {2015}}
@article{e, author = {Diederik Kingma and Jimmy Ba}, title = {Adam}, journal = {J}, year = {2016}}
@article{f, author = {Diederik Kingma and Max Welling}, title = {VAE}, journal = {J}, year = {2016}}
@article{g, author = {Jimmy Ba}, title = {No year}, journal = {J}}
"""


@pytest.fixture
def entries():
    return parse_string(BIB, "bibtex").entries


@pytest.fixture
def style(entries):
    style = AuthorYearDistinct()
    style.year_suffixes = year_suffixes(entries.values(), style.cited_as)
    return style


def test_letters_by_how_a_citation_reads(entries, style):
    # by hand: a, b and c all read "He et al. 2016" (three authors each), lettered by title
    # (Deep, Identity, Rethinking); d is 2015; e and f name different second authors; g has no year
    assert style.year_suffixes == {"a": "a", "b": "b", "c": "c"}


def test_groups_only_alike_citations():
    assert year_suffixes([], str) == {}
    bib = parse_string(BIB, "bibtex").entries
    # grouped by first author alone: He 2016 (a, b, c) and Kingma 2016 (e, f)
    by_first = year_suffixes(bib.values(), lambda e: str(e.persons["author"][0].last_names))
    assert by_first == {"a": "a", "b": "b", "c": "c", "e": "a", "f": "b"}


def _cite(style, role, entries, keys):
    # a builder that links a reference without a page to link to (the "rinoh" branch)
    info = SphinxReferenceInfo(SimpleNamespace(name="rinoh"), "", "", "", None, "", "")
    refs = [(entries[k], None, info) for k in keys]
    nodes = format_references(style, role, refs).render(pybtex_docutils.Backend())
    return "".join(node.astext() for node in nodes)


@pytest.mark.parametrize(
    ("role", "keys", "expected"),
    [
        ("t", ["a"], "He et al. [2016a]"),
        ("t", ["b"], "He et al. [2016b]"),
        ("p", ["a", "b"], "[He et al., 2016a, He et al., 2016b]"),
        ("p", ["d"], "[He et al., 2015]"),
        ("t", ["e"], "Kingma and Ba [2016]"),
        ("year", ["c"], "2016c"),
    ],
)
def test_citations_carry_the_letter(entries, style, role, keys, expected):
    assert _cite(style, role, entries, keys) == expected


def test_list_of_references_carries_the_letter(entries, style):
    AlphaDistinct.year_suffixes = style.year_suffixes
    try:
        text = AlphaDistinct().format_entry("HZR16a", entries["a"]).text.render_as("text")
        plain = AlphaDistinct().format_entry("HZR15", entries["d"]).text.render_as("text")
    finally:
        AlphaDistinct.year_suffixes = {}
    assert text.endswith("2016a.") and plain.endswith("2015.")
    assert entries["a"].fields["year"] == "2016"  # the bibliography itself is not changed


@pytest.mark.build
def test_book_tells_he_2016_apart(tmp_path):
    """A page that cites both of He et al.'s 2016 papers, built with the book's conf.py."""
    prose = "See {cite:t}`he2016deep` and {cite:p}`he2016identity`."
    src = small_book(tmp_path / "src", {"cites": lesson("Cites", prose=prose)})
    result = sphinx_build(src, tmp_path / "html")
    assert result.returncode == 0, result.stderr[-3000:]
    page = (tmp_path / "html" / "lessons" / "cites.html").read_text()
    refs = (tmp_path / "html" / "docs" / "references.html").read_text()
    assert "2016a" in page and "2016b" in page
    assert refs.count("2016a") >= 1 and refs.count("2016b") >= 1
    assert ROOT.joinpath("docs", "references.bib").is_file()
