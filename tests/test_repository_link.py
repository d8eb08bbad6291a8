"""Protects the one repository setting: with BOOK_REPOSITORY_URL set, every page links to the
repository and to "edit this page" on it; without it, no page carries such a link (no dead link)."""

import os

import pytest

from conftest import small_book, sphinx_build

pytestmark = pytest.mark.build  # small Sphinx builds of their own: not the unit tier

URL = "https://github.com/example-owner/shortcut-connections"


@pytest.fixture(scope="module")
def book(tmp_path_factory):
    """The book's configuration and reference pages with one short page in lessons/."""
    return small_book(tmp_path_factory.mktemp("book") / "src", {"page": "# A page\n\nSome text.\n"})


@pytest.mark.parametrize("url", [URL, None])
def test_repository_and_edit_buttons_follow_the_setting(book, tmp_path, url):
    env = {k: v for k, v in os.environ.items() if k != "BOOK_REPOSITORY_URL"}
    if url:
        env["BOOK_REPOSITORY_URL"] = url + "/"  # a trailing slash must not double up
    result = sphinx_build(book, tmp_path / "html", env=env)
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    for page, source in (
        ("lessons/page.html", "lessons/page.md"),
        ("docs/api.html", "docs/api.md"),
    ):
        html = (tmp_path / "html" / page).read_text()
        if url:
            assert f'href="{URL}"' in html, f"{page} has no link to the repository"
            assert f'href="{URL}/edit/main/{source}"' in html, f"{page} has no edit link"
        else:
            assert "github.com" not in html, f"{page} links to a repository that was not set"
            assert "/edit/" not in html
