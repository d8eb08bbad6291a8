"""How to cite the book: ``CITATION.cff`` at the repository's root is the one place the citation
lives; the ``book-bibtex`` directive shows it as a BibTeX entry (on the landing page and in the
PDF), with the book's address where ``book_url`` is set.

A Sphinx extension. The file is read from the source folder, else from the repository this package
was installed from (a test book built elsewhere still finds it).
"""

from pathlib import Path

import yaml
from docutils import nodes
from sphinx.application import Sphinx
from sphinx.util.docutils import SphinxDirective

PACKAGE_ROOT = Path(__file__).resolve().parents[2]  # code/bookbuild/ -> the repository


def citation_file(srcdir: Path) -> Path:
    """CITATION.cff of the book being built."""
    for folder in (srcdir, PACKAGE_ROOT):
        if (folder / "CITATION.cff").is_file():
            return folder / "CITATION.cff"
    raise FileNotFoundError("CITATION.cff: not in the source folder nor the repository")


def _author(person: dict) -> str:
    if "name" in person:  # an entity: braces keep BibTeX from splitting it into first and last
        return "{" + person["name"] + "}"
    return f"{person['family-names']}, {person['given-names']}"


def bibtex(cff: dict, url: str = "") -> str:
    """The preferred citation of ``cff`` (CITATION.cff, read) as a BibTeX entry."""
    work = cff.get("preferred-citation", cff)
    kind = {"book": "book", "article": "article"}.get(work.get("type", ""), "misc")
    fields = {
        "title": "{" + work["title"] + "}",
        "author": " and ".join(_author(a) for a in work["authors"]),
        "year": str(work.get("year") or str(cff.get("date-released", ""))[:4]),
        "edition" if kind == "book" else "version": work.get("edition") or cff.get("version"),
        "url": url,
        "note": "Text and figures CC BY 4.0, code MIT" if cff.get("license") else "",
    }
    key = "".join(w for w in cff["title"].split()).lower() + fields["year"]
    body = ",\n".join(f"  {name} = {{{value}}}" for name, value in fields.items() if value)
    return f"@{kind}{{{key},\n{body}\n}}"


class BookBibtex(SphinxDirective):
    """``book-bibtex``: the book's citation as a BibTeX code block."""

    def run(self):
        path = citation_file(Path(self.env.srcdir))
        self.env.note_dependency(str(path))  # an edit to CITATION.cff rebuilds the page
        cff = yaml.safe_load(path.read_text(encoding="utf-8"))
        text = bibtex(cff, getattr(self.config, "book_url", ""))
        block = nodes.literal_block(text, text, language="bibtex")
        self.set_source_info(block)
        return [block]


def setup(app: Sphinx) -> dict:
    app.add_directive("book-bibtex", BookBibtex)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
