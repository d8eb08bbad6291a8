"""bookbuild.autolink's ``link_html`` puts the same links into a page's code as sphinx-codeautolink's
own (the reference), without writing the rest of the page out again."""

from bs4 import BeautifulSoup
from sphinx.highlighting import PygmentsBridge
from sphinx_codeautolink.extension import block as upstream
from sphinx_codeautolink.extension.backref import CodeExample
from sphinx_codeautolink.parse import parse_names

from bookbuild import autolink

SOURCES = [
    "import math\nfrom gradflow.mlp import ShortcutMLP\n\nx = math.sqrt(2) + 1  # \"a\" & 'b' < c\n",
    "import math\nfrom gradflow.mlp import ShortcutMLP\nnet = ShortcutMLP([3, 3, 1],\n"
    "                  use_shortcut=True)\nmath.pi\n",
]
OUTPUT = (  # a cell's output: highlighted, but not Python
    '<div class="output text_plain highlight-myst-ansi notranslate"><div class="highlight">'
    "<pre><span></span>ShortcutMLP(math)</pre></div></div>"
)
INVENTORY = {
    name: f"docs/api.html#{name}"
    for name in ("math", "math.sqrt", "math.pi", "gradflow.mlp", "gradflow.mlp.ShortcutMLP")
}


def page() -> str:
    """A page as Sphinx writes it: two Python cells around an output, with prose."""
    bridge = PygmentsBridge("html")
    cells = [
        f'<div class="highlight-ipython3 notranslate">{bridge.highlight_block(s, "ipython3")}</div>'
        for s in SOURCES
    ]
    return f"<section><p>Prose &amp; more</p>{cells[0]}{OUTPUT}{cells[1]}</section>"


def transforms() -> list:
    """What the extension learnt of each cell: its names, each resolved to where it comes from."""
    found = []
    for source in SOURCES:
        names = []
        for name in parse_names(source, None):
            name.resolved_location = ".".join(name.import_components)
            if name.resolved_location in INVENTORY:  # the extension drops what it cannot resolve
                names.append(name)
        found.append(upstream.SourceTransform(source, names, CodeExample("lessons/x", "x", []), 1))
    return found


def test_the_same_links_as_sphinx_codeautolink():
    args = ("lessons/x", page(), transforms(), INVENTORY, {}, [])
    theirs = upstream.link_html(*args, disable_link_titles=False)
    ours = autolink.link_html(*args, disable_link_titles=False)
    assert ours.count('class="sphinx-codeautolink-a"') == 9
    # the extension writes the whole page out through BeautifulSoup; written out the same way,
    # ours is the same page
    assert str(BeautifulSoup(ours, "html.parser")) == theirs
    assert OUTPUT in ours  # an output is not code: no links in it


def test_a_block_that_is_not_on_the_page_is_left_alone():
    lost = upstream.SourceTransform("print(1)\n", [], CodeExample("lessons/x", "x", []), 1)
    html = page()
    assert (
        autolink.link_html("lessons/x", html, [lost], {}, {}, [], disable_link_titles=True) == html
    )
