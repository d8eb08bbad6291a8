"""How to cite the book, and how the book cites.

``CITATION.cff`` at the repository's root is the one place the book's own citation lives; the
``book-bibtex`` directive shows it as a BibTeX entry (on the landing page and in the PDF), with the
book's address where ``book_url`` is set.

The book cites author-year ("He et al. [2016]"). Two papers whose citations would read the same
(the same authors as cited, the same year) are told apart by a letter after the year, in the
citations and in the list of references alike: "He et al. [2016a]" and "[2016b]", lettered in the
order of their titles, as the alpha labels of the list ([HZRS16a], [HZRS16b]) are. conf.py selects
the two styles: ``bibtex_reference_style = "author_year_distinct"`` and
``bibtex_default_style = "alpha_distinct"``.

A Sphinx extension. The file is read from the source folder, else from the repository this package
was installed from (a test book built elsewhere still finds it).
"""

import string
from collections import defaultdict
from collections.abc import Iterable, Mapping
from pathlib import Path

import pybtex.plugin
import yaml
from docutils import nodes
from pybtex.database import Entry
from pybtex.style.formatting.alpha import Style as AlphaStyle
from pybtex.style.template import join, node
from pybtex.utils import OrderedCaseInsensitiveDict
from sphinx.application import Sphinx
from sphinx.util.docutils import SphinxDirective
from sphinxcontrib.bibtex.plugin import register_plugin
from sphinxcontrib.bibtex.style.referencing.author_year import AuthorYearReferenceStyle

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


# -- Same authors, same year: 2016a, 2016b ---------------------------------------------------------


def year_suffixes(entries: Iterable[Entry], cited_as) -> dict[str, str]:
    """The letter after the year of every entry whose citation, ``cited_as(entry)`` (the authors as
    a citation names them), and year are those of another entry; lettered by title. Entries
    without a year are left alone."""
    groups = defaultdict(list)
    for entry in entries:
        if "year" in entry.fields:
            groups[cited_as(entry), entry.fields["year"]].append(entry)
    suffixes = {}
    for group in groups.values():
        if len(group) < 2:
            continue
        if len(group) > len(string.ascii_lowercase):
            raise ValueError(f"more than 26 entries cite alike: {[e.key for e in group]}")
        group.sort(key=lambda e: (e.fields.get("title", "").lower(), e.key))
        suffixes |= {
            e.key: letter
            for e, letter in zip(group, string.ascii_lowercase[: len(group)], strict=True)
        }
    return suffixes


def with_suffix(entry: Entry, suffixes: Mapping[str, str]) -> Entry:
    """``entry``, its year lettered if ``suffixes`` letters it (a copy: the bibliography stays)."""
    suffix = suffixes.get(entry.key, "")
    if not suffix:
        return entry
    copy = Entry(entry.type, persons=entry.persons)
    copy.fields = OrderedCaseInsensitiveDict(entry.fields)
    copy.fields["year"] = entry.fields["year"] + suffix
    copy.key = entry.key
    return copy


@node
def _lettered_years(children, data):
    """Format ``children`` with the entry's year lettered."""
    entry = with_suffix(data["entry"], data["style"].year_suffixes)
    return join[children].format_data({**data, "entry": entry})


class AuthorYearDistinct(AuthorYearReferenceStyle):
    """sphinxcontrib-bibtex's author-year citations, the year lettered where two entries would
    otherwise cite alike (every role: p, t, year, ...)."""

    year_suffixes: dict = {}  # filled once the bibliography is read (see _letter_years)

    def inner(self, role_name: str):
        return _lettered_years[super().inner(role_name)]

    def cited_as(self, entry: Entry) -> str:
        """The authors as a short citation (``{cite:t}``) names them, as plain text."""
        template = self.person.author_or_editor_or_title(full=False)
        return template.format_data({"entry": entry, "style": self}).render_as("text")


class AlphaDistinct(AlphaStyle):
    """pybtex's alpha style, the year lettered as the citations letter it."""

    year_suffixes: dict = {}  # the citations' letters (see _letter_years)

    def format_entry(self, label, entry, bib_data=None):
        return super().format_entry(label, with_suffix(entry, self.year_suffixes), bib_data)


def _letter_years(app: Sphinx) -> None:
    """Once sphinxcontrib-bibtex has read the .bib files: letter the years of entries that cite
    alike, for the citations and the list of references alike."""
    domain = app.env.get_domain("cite")
    style = domain.reference_style
    if isinstance(style, AuthorYearDistinct):
        style.year_suffixes = year_suffixes(domain.bibdata.data.entries.values(), style.cited_as)
        AlphaDistinct.year_suffixes = style.year_suffixes


register_plugin(
    "sphinxcontrib.bibtex.style.referencing", "author_year_distinct", AuthorYearDistinct
)
pybtex.plugin.register_plugin("pybtex.style.formatting", "alpha_distinct", AlphaDistinct)


def setup(app: Sphinx) -> dict:
    app.add_directive("book-bibtex", BookBibtex)
    app.connect("builder-inited", _letter_years, priority=600)  # after sphinxcontrib-bibtex's (500)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
