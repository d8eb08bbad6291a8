"""Protects how the book may be cited and reused (issue 22): CITATION.cff validates against the
Citation File Format's schema (the copy inside check-jsonschema: no network; cffconvert 2.0 pins
jsonschema<4, which the other tools cannot share), the BibTeX the landing page shows says what
CITATION.cff says (read back with pybtex), LICENSE is MIT, the text and figures are CC BY 4.0, and
the distribution that installs gradflow is not PyPI's other "gradflow"."""

import subprocess
import sys
import tomllib

import pytest
import yaml
from bs4 import BeautifulSoup
from packaging.requirements import Requirement

import bookbuild
from bookbuild.citation import bibtex
from conftest import ROOT

CFF = ROOT / "CITATION.cff"
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_citation_file_validates():
    cmd = [sys.executable, "-m", "check_jsonschema", "--builtin-schema"]
    cmd += ["vendor.citation-file-format", str(CFF)]
    result = subprocess.run(cmd, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("url", ["", "https://example.org/book/"])
def test_bibtex_says_what_the_citation_file_says(url):
    from pybtex.database import parse_string

    cff = yaml.safe_load(CFF.read_text())
    entry = next(iter(parse_string(bibtex(cff, url), "bibtex").entries.values()))
    work = cff["preferred-citation"]
    assert entry.type == "book"
    assert entry.fields["title"].strip("{}") == work["title"]
    assert [str(p) for p in entry.persons["author"]] == [
        "{" + a["name"] + "}" for a in work["authors"]
    ]
    assert entry.fields["year"] == str(work["year"])
    assert entry.fields["edition"] == cff["version"] == PYPROJECT["project"]["version"]
    assert entry.fields.get("url", "") == url  # the book's address only where it is set


def test_licences():
    assert "MIT License" in (ROOT / "LICENSE").read_text()
    assert "CC BY 4.0" in (ROOT / "LICENSE-text").read_text()
    assert PYPROJECT["project"]["license"] == "MIT"
    assert set(PYPROJECT["project"]["license-files"]) == {"LICENSE", "LICENSE-text"}
    assert set(yaml.safe_load(CFF.read_text())["license"]) == {"MIT", "CC-BY-4.0"}


def test_distribution_is_not_pypis_gradflow_and_names_agree():
    name = PYPROJECT["project"]["name"]
    assert name != "gradflow" and name == bookbuild.DISTRIBUTION
    assert f'version("{name}")' in (ROOT / "code" / "gradflow" / "__init__.py").read_text()


def test_dependencies_are_ranges_and_the_constraints_pin_the_cpu_torch():
    """The package takes Colab's torch as it is; the book's own environment stays exact."""
    requirements = {
        Requirement(r).name: Requirement(r) for r in PYPROJECT["project"]["dependencies"]
    }
    for version in ("2.5.1", "2.9.0", "2.13.0"):  # older Colab releases through the pinned one
        assert requirements["torch"].specifier.contains(version), version
    constraints = (ROOT / ".ci" / "constraints.txt").read_text().splitlines()
    assert "torch==2.13.0" in constraints
    pins = {line.split("==")[0].lower() for line in constraints if "==" in line}
    assert set(requirements) <= pins  # every dependency pinned for the book's builds


@pytest.mark.site
def test_landing_page_shows_the_citation_and_every_page_the_licence(site):
    page = BeautifulSoup((site / "docs" / "index.html").read_text(encoding="utf-8"), "html.parser")
    assert "@book{" in page.select_one("section#how-to-cite pre").get_text()
    for path in ("docs/index.html", "docs/cite.html", "lessons/shortcut_connections.html"):
        page = BeautifulSoup((site / path).read_text(encoding="utf-8"), "html.parser")
        link = page.select_one('footer a[rel="license"]')
        assert link is not None and link.get_text() == "CC BY 4.0", path
