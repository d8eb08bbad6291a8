"""The theme's icon font cut down to the icons the book shows: Font Awesome's solid font is 115 KB
(gzipped) for some 1,900 icons, of which a page uses about twenty.

A Sphinx extension. When the HTML build has finished, it collects the icons in use: those the
theme's stylesheets name through their ``--pst-icon-*`` variables (admonitions, links), those of the
``fa-*`` classes on any page or in the theme's scripts, and any other icon character a stylesheet
sets; then it rewrites the copied font in ``_static`` with just those glyphs (fontTools). The
pinned theme fixes the input, so two builds write the same file.

The theme's stylesheet, which every page waits for before its first paint, is cut the same way:
of its 1,900 rules that give an ``fa-*`` class its character (a third of the file, 18 KB gzipped)
it keeps those of the classes in use.
"""

import hashlib
import io
import re
import shutil
from pathlib import Path

from fontTools import subset
from fontTools.ttLib import TTFont
from sphinx.application import Sphinx
from sphinx.util import logging

logger = logging.getLogger(__name__)

FONT = "vendor/fontawesome/webfonts/fa-solid-900.woff2"
THEME_CSS = "styles/pydata-sphinx-theme.css"  # maps each fa-* class to its character
# a rule of one or more classes, `.fa-magnifying-glass,.fa-search{--fa:"\f002"}`, found by its
# declaration (a pattern that starts with the selectors tries every position of the 370 KB
# stylesheet: two seconds of every build)
FA_DECLARATION = re.compile(r"\{--fa:\"\\([0-9a-f]+)\"")
# any declaration that only sets a character, `{--fa:"A"}` or `{--fa:"\30 "}` too
CHARACTER_DECLARATION = re.compile(r'\{--fa:"(?:[^"\\]|\\.)*"\}')
FA_CLASS = re.compile(r"\.fa-([a-z0-9-]+)$")
ICON_VARIABLE = re.compile(r"--pst-icon-[a-z-]+:\"(.)\"")
USED_CLASS = re.compile(r"\bfa-([a-z0-9-]+)")
PRIVATE_USE = re.compile("[\ue000-\uf8ff]")


def selectors_before(css: str, start: int) -> int:
    """Where the selectors of the rule whose declaration block opens at ``start`` begin."""
    return max(css.rfind("{", 0, start), css.rfind("}", 0, start)) + 1


def fa_rules(css: str) -> list[tuple[str, str]]:
    """Each rule of ``css`` that sets ``--fa``: its selectors and the character's code, in hex."""
    rules = []
    for match in FA_DECLARATION.finditer(css):
        begin = selectors_before(css, match.start())
        if begin < match.start():
            rules.append((css[begin : match.start()], match[1]))
    return rules


def icons_in_use(outdir: Path, theme_css: str) -> tuple[set[int], set[str]]:
    """The code points of every icon a page of ``outdir`` can show, and the ``fa-*`` classes (less
    the prefix) that its pages and the theme's scripts use; ``theme_css`` is the theme's own
    stylesheet."""
    static = outdir / "_static"
    by_class = {
        match[1]: int(code, 16)
        for selectors, code in fa_rules(theme_css)
        for match in map(FA_CLASS.match, selectors.split(","))
        if match
    }
    used = {ord(char) for char in ICON_VARIABLE.findall(theme_css)}
    for css in static.rglob("*.css"):  # other stylesheets set icon characters directly
        if css != static / THEME_CSS:
            used |= {ord(c) for c in PRIVATE_USE.findall(css.read_text(encoding="utf-8"))}
    sources = [*outdir.rglob("*.html"), *(static / "scripts").glob("*.js")]
    sources = [p for p in sources if p.name != "fontawesome.js"]  # the full library, not loaded
    classes = set()
    for source in sources:
        classes |= set(USED_CLASS.findall(source.read_text(encoding="utf-8", errors="replace")))
    used |= {by_class[name] for name in classes if name in by_class}
    return used, classes


def cut_icon_rules(theme_css: str, classes: set[str]) -> str:
    """``theme_css`` with each rule that gives ``fa-*`` classes their character cut to the classes
    in ``classes`` (and gone where none is)."""

    pieces, done = [], 0
    for match in CHARACTER_DECLARATION.finditer(theme_css):
        begin = selectors_before(theme_css, match.start())
        if begin == match.start():
            continue
        selectors = [
            selector
            for selector in theme_css[begin : match.start()].split(",")
            if (found := FA_CLASS.match(selector)) is None or found[1] in classes
        ]
        pieces += [theme_css[done:begin], ",".join(selectors) + match[0] if selectors else ""]
        done = match.end()
    return "".join(pieces) + theme_css[done:]


def subset_font(source: Path, font: Path, codepoints: set[int]) -> None:
    """Write to ``font`` the WOFF2 ``source`` with only the glyphs of ``codepoints``."""
    options = subset.Options()
    options.flavor = "woff2"
    options.layout_features = ["*"]
    ttfont = TTFont(source, recalcTimestamp=False)  # keep its date: two builds, one font
    subsetter = subset.Subsetter(options)
    subsetter.populate(unicodes=sorted(codepoints))
    subsetter.subset(ttfont)
    buffer = io.BytesIO()
    ttfont.flavor = "woff2"
    ttfont.save(buffer)
    font.write_bytes(buffer.getvalue())


def cut_icon_font(app: Sphinx, exception: Exception | None) -> None:
    if exception is not None or app.builder.format != "html":
        return
    outdir = Path(app.outdir)
    font = outdir / "_static" / FONT
    # cut from the theme's own font and stylesheet, never from an earlier build's cut copies
    theme_dirs = [Path(d) / "static" for d in app.builder.theme.get_theme_dirs()]
    source = next((d / FONT for d in theme_dirs if (d / FONT).is_file()), None)
    source_css = next((d / THEME_CSS for d in theme_dirs if (d / THEME_CSS).is_file()), None)
    if source is None or source_css is None:
        logger.warning("bookbuild.icons: the theme's icon font or stylesheet moved; not cut")
        return
    theme_css = source_css.read_text(encoding="utf-8")
    codepoints, classes = icons_in_use(outdir, theme_css)
    # the same font and icons give the same cut: keep it beside the doctrees for the next build
    key = hashlib.sha256(source.read_bytes() + repr(sorted(codepoints)).encode()).hexdigest()
    cut = Path(app.doctreedir) / f"bookbuild-icons-{key[:16]}.woff2"
    if not cut.is_file():
        subset_font(source, cut, codepoints)
    shutil.copyfile(cut, font)
    css = outdir / "_static" / THEME_CSS
    css.write_text(cut_icon_rules(theme_css, classes), encoding="utf-8")
    logger.info(
        f"bookbuild.icons: {len(codepoints)} icons kept, "
        f"{source.stat().st_size / 1024:.0f} KB -> {font.stat().st_size / 1024:.0f} KB; "
        f"stylesheet {len(theme_css) / 1024:.0f} KB -> {css.stat().st_size / 1024:.0f} KB"
    )


def setup(app: Sphinx) -> dict:
    app.connect("build-finished", cut_icon_font)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
