"""Protects the PDF build's check for code running off the page: an overfull line that LaTeX's log
places inside a code block is found, one in prose or a table is not (cases written by hand)."""

from bookbuild.pdf import overfull_code

TEX = r"""\chapter{A}
Some prose.
\begin{sphinxVerbatim}[commandchars=\\\{\}]
x = a_very_long_identifier_that_cannot_be_broken_anywhere_at_all
\end{sphinxVerbatim}
\begin{tabulary}{\linewidth}{|T|T|}
cell & cell
\end{tabulary}
"""


def test_overfull_line_in_code_is_found(tmp_path):
    tex, log = tmp_path / "book.tex", tmp_path / "book.log"
    tex.write_text(TEX)
    log.write_text(
        "Overfull \\hbox (12.5pt too wide) in paragraph at lines 4--4\n"
        "Overfull \\hbox (3.0pt too wide) in paragraph at lines 2--2\n"
        "Overfull \\hbox (7.0pt too wide) detected at line 7\n"
        "Overfull \\vbox (2.0pt too high) detected at line 4\n"
    )
    found = overfull_code(tex, log)
    assert len(found) == 1
    assert found[0].startswith("book.tex:4: 12.5pt too wide")


def test_clean_log_finds_nothing(tmp_path):
    tex, log = tmp_path / "book.tex", tmp_path / "book.log"
    tex.write_text(TEX)
    log.write_text("Underfull \\hbox (badness 10000) in paragraph at lines 4--4\n")
    assert overfull_code(tex, log) == []
