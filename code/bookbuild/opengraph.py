"""sphinxext-opengraph (page descriptions: meta description, Open Graph) without its social cards.

sphinxext-opengraph imports matplotlib and pyplot as it is imported, to draw social cards: about a
second of every build, a build that changed nothing included, although the book turns the cards off
(``ogp_social_cards = {"enable": False}``). This extension loads it with its social-card module
marked missing, the case it handles itself (matplotlib not installed: no cards), so that it
imports nothing of matplotlib; what it writes into the pages is the same. It stops the build
where the cards are not turned off, since it would leave them out. Listed in conf.py in place of
``sphinxext.opengraph``.
"""

import contextlib
import io
import sys

from sphinx.application import Sphinx
from sphinx.errors import ConfigError

CARDS = "sphinxext.opengraph._social_cards"  # the module that imports matplotlib


def cards_are_off(app: Sphinx, config) -> None:
    if (config.ogp_social_cards or {}).get("enable") is not False:
        raise ConfigError(
            'bookbuild.opengraph makes no social cards: set ogp_social_cards = {"enable": False}, '
            "or list sphinxext.opengraph in its place"
        )


def setup(app: Sphinx) -> dict:
    missing = CARDS not in sys.modules
    if missing:
        sys.modules[CARDS] = None  # importing it raises ImportError: the extension's own fallback
    try:
        with contextlib.redirect_stdout(io.StringIO()):  # its "matplotlib is not installed" line
            app.setup_extension("sphinxext.opengraph")
    finally:
        if missing:
            del sys.modules[CARDS]
    app.connect("config-inited", cards_are_off)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
