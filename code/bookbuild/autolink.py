"""sphinx-codeautolink for a book written in Markdown.

sphinx-codeautolink keeps what it learnt of each page's code in the doctrees between builds, and
when it reads that back it drops every page whose source is not ``<page>.rst``
(``sphinx_codeautolink/extension/cache.py``, release 0.20.0). A lesson is ``<page>.md``, so a page
written again without being read again (a changed chapter title rewrites every page's navigation)
lost the links in its code. This extension lets the cache keep every page whose source exists,
whatever its suffix. Listed in conf.py after ``sphinx_codeautolink``; tested in
tests/test_learning_aids.py.
"""

import json
from pathlib import Path

from sphinx.application import Sphinx
from sphinx_codeautolink import extension
from sphinx_codeautolink.extension.block import CodeExample, Name, SourceTransform
from sphinx_codeautolink.extension.cache import DataCache

SUFFIXES = (".rst", ".md", ".ipynb")  # the sources this book's Sphinx reads


class AnySuffixDataCache(DataCache):
    """sphinx-codeautolink's cache, reading back the pages of any source suffix."""

    def read(self) -> None:
        cache = self.cache_dir / self.cache_filename
        if not cache.exists():
            return
        for page, transforms in json.loads(cache.read_text("utf-8")).items():
            if not any(Path(self.src_dir, page + suffix).exists() for suffix in SUFFIXES):
                continue  # the page is gone
            for transform in transforms:
                transform["example"] = CodeExample(**transform["example"])
                transform["names"] = [Name(**n) for n in transform["names"]]
            self.transforms[page] = [SourceTransform(**t) for t in transforms]


def setup(app: Sphinx) -> dict:
    extension.DataCache = AnySuffixDataCache  # the name the extension builds its cache with
    return {"parallel_read_safe": True, "parallel_write_safe": True}
