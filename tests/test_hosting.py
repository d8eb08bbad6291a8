"""Protects the way the book reaches readers: the GitHub Pages workflow and the Read the Docs
configuration are valid against the schemas that ship inside check-jsonschema (no network) and
build with the README's command; the built site carries a sitemap, page descriptions and copy
buttons, and names its address in one setting."""

import subprocess
import sys

import pytest
import yaml
from bs4 import BeautifulSoup

from conftest import ROOT

WORKFLOW = ROOT / ".github" / "workflows" / "pages.yml"
READTHEDOCS = ROOT / ".readthedocs.yaml"


@pytest.mark.parametrize(
    ("path", "schema"),
    [(WORKFLOW, "vendor.github-workflows"), (READTHEDOCS, "vendor.readthedocs")],
    ids=["pages.yml", "readthedocs"],
)
def test_hosting_config_is_valid(path, schema):
    cmd = [sys.executable, "-m", "check_jsonschema", "--builtin-schema", schema, str(path)]
    result = subprocess.run(cmd, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_workflow_builds_with_nox_and_deploys_to_pages():
    workflow = yaml.safe_load(WORKFLOW.read_text())
    assert workflow[True]["push"]["branches"] == ["main"]  # YAML reads the key `on` as True
    assert workflow["permissions"] == {"contents": "read", "pages": "write", "id-token": "write"}
    assert workflow["concurrency"]["group"] == "pages"
    steps = workflow["jobs"]["build"]["steps"]
    runs = [s.get("run", "") for s in steps]
    uses = [s.get("uses", "").split("@")[0] for s in steps]
    assert "nox -s docs" in runs and "nox -s pdf" in runs
    cache = steps[uses.index("actions/cache")]["with"]
    assert cache["path"] == "_build" and "restore-keys" in cache
    artifact = steps[uses.index("actions/upload-pages-artifact")]["with"]
    assert artifact["path"] == "_build/html"
    deploy = workflow["jobs"]["deploy"]
    assert deploy["needs"] == "build"
    assert deploy["steps"][0]["uses"].startswith("actions/deploy-pages@")


def test_readthedocs_builds_with_nox():
    config = yaml.safe_load(READTHEDOCS.read_text())
    assert config["version"] == 2
    assert config["build"]["tools"]["python"] == "3.11"
    commands = config["build"]["commands"]
    assert "nox -s docs" in commands
    assert any("$READTHEDOCS_OUTPUT/html" in c for c in commands)


pages_mark = pytest.mark.site


def lesson_pages(site):
    return sorted((site / "lessons").glob("*.html"))


@pages_mark
def test_sitemap_lists_every_chapter(site):
    sitemap = (site / "sitemap.xml").read_text()
    for page in lesson_pages(site):
        assert f"lessons/{page.name}</loc>" in sitemap, f"{page.name} is missing from the sitemap"


@pages_mark
def test_every_page_has_a_description_and_copy_buttons(site):
    for page in [site / "docs" / "index.html", *lesson_pages(site)]:
        html = BeautifulSoup(page.read_text(encoding="utf-8"), "html.parser")
        description = html.find("meta", attrs={"name": "description"})
        assert description and len(description["content"].split()) >= 8, f"{page.name}"
        scripts = [s.get("src", "") for s in html.find_all("script")]
        assert any("clipboard" in s for s in scripts), f"{page.name} has no copy button script"
