"""Protects what a real browser shows: opened offline in headless Chromium, the shortcut lesson's
mathematics is typeset by the MathJax shipped with the site, with no TeX errors. Skipped where
Debian's Chromium is not installed (CI installs it)."""

import shutil
import subprocess

import pytest

pytestmark = pytest.mark.site

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(CHROMIUM is None, reason="needs Chromium: apt-get install chromium")
def test_math_is_typeset_offline(site, tmp_path):
    page = site / "lessons" / "shortcut_connections.html"
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"]
    flags += ["--disable-background-networking", "--disable-component-update", "--disable-sync"]
    flags += [f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=15000"]
    dom = subprocess.run(
        [CHROMIUM, *flags, "--dump-dom", page.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
    ).stdout
    assert "</html>" in dom, "Chromium returned no page"
    assert dom.count("<mjx-container") >= 10, "MathJax did not typeset the page's mathematics"
    assert "<mjx-merror" not in dom, "MathJax reported a TeX error"
