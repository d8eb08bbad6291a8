"""Math rendered at build time as MathML, which browsers draw natively: no JavaScript to download
or run, so a chapter with sixty equations loads as fast as one without, online or from disk.

A Sphinx extension (``html_math_renderer = "mathml"`` in conf.py). latex2mathml converts each
formula; ``aligned`` blocks, which it does not know, become a two-column ``array``. A formula it
cannot convert (an unknown command comes back as text starting with a backslash) is a warning, which
fails the strict build, so no raw LaTeX reaches a page. The PDF edition keeps the LaTeX.
"""

import re
from html import escape

from docutils import nodes
from latex2mathml.converter import convert
from sphinx.application import Sphinx
from sphinx.locale import _
from sphinx.util import logging
from sphinx.util.math import get_node_equation_number

logger = logging.getLogger(__name__)

ALIGNED = re.compile(r"\\begin\{aligned\}(.*?)\\end\{aligned\}", re.DOTALL)
# an unconverted command shows up as the text of a token: <mi>\foo</mi>
LEFTOVER = re.compile(r">(\\[A-Za-z]+)<")
# \operatorname{LN} comes out as an operator, <mo>LN</mo>, spaced like a "+"; a name is an
# identifier (upright, as it has several letters). Operators with limits (max, min, ...) stay.
NAME = re.compile(r"<mo>(?!(?:max|min|sup|inf|lim|arg)\b)([A-Za-z]{2,})</mo>")


def _aligned_as_array(match: re.Match) -> str:
    # `a &= b` aligns at the relation: a right-aligned column, then a left-aligned one whose `{}`
    # keeps the relation's spacing
    return r"\begin{array}{rl}" + match[1].replace("&", "&{}") + r"\end{array}"


def to_mathml(latex: str, display: bool, node: nodes.Node) -> str:
    """The formula as a MathML element; warn (failing the strict build) where it did not convert."""
    latex = ALIGNED.sub(_aligned_as_array, latex.strip())
    try:
        mathml = convert(latex, display="block" if display else "inline")
    except Exception as error:  # latex2mathml raises its own exceptions on malformed input
        logger.warning("cannot render math %r: %s", latex, error, location=node)
        return f"<code>{escape(latex)}</code>"
    mathml = NAME.sub(r"<mi>\1</mi>", mathml)
    leftover = LEFTOVER.findall(mathml)
    if leftover:
        logger.warning("unknown LaTeX command %s in math %r", leftover[0], latex, location=node)
    return mathml


def visit_math(self, node: nodes.math) -> None:
    self.body.append(self.starttag(node, "span", "", CLASS="math notranslate nohighlight"))
    self.body.append(to_mathml(node.astext(), False, node) + "</span>")
    raise nodes.SkipNode


def visit_displaymath(self, node: nodes.math_block) -> None:
    self.body.append(self.starttag(node, "div", CLASS="math notranslate nohighlight"))
    if node["number"]:  # a labelled equation: its number, and a link to it
        self.body.append(f'<span class="eqno">({get_node_equation_number(self, node)})')
        self.add_permalink_ref(node, _("Link to this equation"))
        self.body.append("</span>")
    for part in node.astext().split("\n\n"):  # blank lines separate equations, as in Sphinx
        if part.strip():
            self.body.append(to_mathml(part, True, node))
    self.body.append("</div>\n")
    raise nodes.SkipNode


def setup(app: Sphinx) -> dict:
    app.add_html_math_renderer("mathml", (visit_math, None), (visit_displaymath, None))
    return {"parallel_read_safe": True, "parallel_write_safe": True}
