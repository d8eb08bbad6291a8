"""Protects the one repository setting: with BOOK_REPOSITORY_URL set, every page links to the
repository and to "edit this page" on it, and says when it last changed (its last commit's date);
without it, no page carries such a link (no dead link) or date."""

import os
import subprocess

import pytest

from conftest import small_book, sphinx_build

pytestmark = pytest.mark.build  # small Sphinx builds of their own: not the unit tier

URL = "https://github.com/example-owner/shortcut-connections"


@pytest.fixture(scope="module")
def book(tmp_path_factory):
    """The book's configuration and reference pages with one short page in lessons/."""
    src = small_book(tmp_path_factory.mktemp("book") / "src", {"page": "# A page\n\nSome text.\n"})
    # One commit with a known date: the date a hosted page must show, whatever the clock says
    date = {
        "GIT_AUTHOR_DATE": "2026-01-02T23:30:00+00:00",
        "GIT_COMMITTER_DATE": "2026-01-02T23:30:00+00:00",
    }
    git = ["git", "-c", "user.name=A", "-c", "user.email=a@example.org"]
    subprocess.run([*git, "init", "-q"], cwd=src, check=True)
    subprocess.run([*git, "add", "-A"], cwd=src, check=True)
    subprocess.run([*git, "commit", "-qm", "book"], cwd=src, check=True, env=os.environ | date)
    return src


@pytest.mark.parametrize("url", [URL, None])
def test_repository_and_edit_buttons_follow_the_setting(book, tmp_path, url):
    env = {k: v for k, v in os.environ.items() if k != "BOOK_REPOSITORY_URL"}
    if url:
        env["BOOK_REPOSITORY_URL"] = url + "/"  # a trailing slash must not double up
    result = sphinx_build(book, tmp_path / "html", env=env)
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    for page, source in (
        ("lessons/page.html", "lessons/page.md"),
        ("docs/using.html", "docs/using.md"),
    ):
        html = (tmp_path / "html" / page).read_text()
        if url:
            assert f'href="{URL}"' in html, f"{page} has no link to the repository"
            assert f'href="{URL}/edit/main/{source}"' in html, f"{page} has no edit link"
            assert "Last updated on" in html, f"{page} does not say when it last changed"
        else:
            assert "github.com" not in html, f"{page} links to a repository that was not set"
            assert "/edit/" not in html
            assert "Last updated" not in html
    if url:  # the page's own commit; the API page also follows the code it documents
        assert (
            "Last updated on 02 January 2026" in (tmp_path / "html/lessons/page.html").read_text()
        )
