"""Every claim of the book, in one file: ``claims.json`` beside the build's output folder.

Each lesson guards the statements of its prose with ``gradflow.claims.claim``, which leaves a record
(chapter, name, value, rule, margin) among the outputs of its cell. When a build succeeds, this
extension reads those records from every lesson's execution in MyST-NB's cache, so the file lists all
claims whether a lesson executed in this build or came from the cache: ``_build/claims.json`` for
``_build/html``. A claim that failed never gets here: it stopped the build.
"""

import json
from pathlib import Path

from sphinx.application import Sphinx

from bookbuild.downloads import lessons
from bookbuild.sphinxext import _cache, _record

MIME = "application/vnd.gradflow.claim+json"  # as gradflow.claims writes it
FILENAME = "claims.json"


def collect(app: Sphinx) -> list[dict]:
    """The claim records of every lesson's cached execution, in the order the lessons make them."""
    records, cache = [], _cache(app)
    for docname in lessons(app.env):
        record = _record(app, cache, Path(app.env.doc2path(docname)))
        notebook = cache.get_cache_bundle(record.pk).nb if record is not None else None
        for cell in notebook.cells if notebook is not None else []:
            for output in cell.get("outputs", []):
                record = output.get("data", {}).get(MIME)
                if record is not None:
                    records.append({"page": docname, **record})
    return records


def write_claims(app: Sphinx, exception) -> None:
    """Write ``claims.json`` next to the output folder after a build that succeeded."""
    if exception is not None or app.statuscode != 0:
        return
    content = json.dumps(collect(app), indent=1) + "\n"
    target = Path(app.outdir).parent / FILENAME
    if not target.is_file() or target.read_text(encoding="utf-8") != content:
        target.write_text(content, encoding="utf-8")


def setup(app: Sphinx) -> dict:
    app.connect("build-finished", write_claims)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
