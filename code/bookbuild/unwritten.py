"""The site's files about every page, whole in a build that writes only some pages again.

Sphinx writes a page again only when it changed, but two files speak of every page, and they were
filled from the pages written in that build alone: a rebuild that changed nothing wrote a sitemap of
four pages and a search index without its index entries. A Sphinx extension, for the HTML builder:

- ``sitemap.xml``: sphinx-sitemap collects the link of each page as it is written
  (jdillard/sphinx-sitemap#13). Before it writes the file, the links of every page go in, in the
  order a clean build writes the pages (the documents by name, then the other pages).
- ``searchindex.js``: Sphinx reads the words and titles of the pages it does not write again back
  from the index it wrote before, but not their index entries (sphinx-doc/sphinx#12599). The index
  entries of each page are kept beside the doctrees with the digest of the doctree they came from,
  and given back for each page not written again; for a page whose doctree has no kept entries,
  they come from its doctree, as Sphinx finds them. The words that no page holds any longer (Sphinx
  kept each with an empty list of pages) are left out.
"""

import hashlib
import json
import queue
from pathlib import Path

from sphinx import addnodes
from sphinx.application import Sphinx
from sphinx.util.index_entries import split_index_msg

INDEX_ENTRIES = "bookbuild-index-entries.json"  # beside the doctrees: page -> doctree, entries


def complete_sitemap(app: Sphinx, exception) -> None:
    """Give sphinx-sitemap's queue the link of every page, in a clean build's order."""
    if exception is not None or app.builder.format != "html":
        return
    links = getattr(app, "sitemap_links", None)  # sphinx-sitemap's, filled as pages are written
    if links is None:
        return
    from sphinx_sitemap import add_html_link

    written = []
    while not links.empty():
        written.append(links.get_nowait())
    app.sitemap_links = documents = queue.Queue()
    try:
        for docname in sorted(app.env.found_docs):
            add_html_link(app, docname, None, {}, None)
    finally:
        app.sitemap_links = links
    ordered = list(documents.queue)
    for item in ordered + [item for item in written if item not in ordered]:
        links.put(item)


def index_entries(doctree) -> list[tuple[str, str, str]]:
    """A page's index entries as Sphinx's search index finds them (``IndexBuilder.feed``)."""
    found: set[tuple[str, str, str]] = set()
    for node in doctree.findall(addnodes.index):
        for entry_type, value, target_id, main, _category in node["entries"]:
            try:
                result = split_index_msg(entry_type, value)
            except ValueError:
                continue
            target_id = target_id or ""
            if entry_type in {"see", "seealso"}:
                found.add((result[0], target_id, main))
            found |= {(x, target_id, main) for x in result}
    return sorted(found)


def keep_index_entries(app: Sphinx) -> None:
    """Before the search index is written, give it the index entries of every page it has."""
    builder = app.builder
    if builder.format != "html" or not hasattr(builder, "dump_search_index"):
        return
    index_page, dump, fed = builder.index_page, builder.dump_search_index, set()

    def index_this_page(pagename: str, doctree, title: str) -> None:
        index_page(pagename, doctree, title)
        fed.add(pagename)

    def dump_whole_index() -> None:
        indexer = builder.indexer
        if indexer is None:
            return dump()
        path = Path(app.doctreedir) / INDEX_ENTRIES
        try:
            kept = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            kept = {}
        entries, keep = {}, {}
        for docname in sorted(set(indexer._titles) & set(app.env.all_docs)):
            doctree = Path(app.doctreedir) / f"{docname}.doctree"
            digest = hashlib.sha256(doctree.read_bytes()).hexdigest() if doctree.is_file() else ""
            if docname in fed:
                found = indexer._index_entries.get(docname, [])
            elif kept.get(docname, {}).get("doctree") == digest and digest:
                found = [tuple(entry) for entry in kept[docname]["entries"]]
            else:
                found = index_entries(app.env.get_and_resolve_doctree(docname, builder))
            entries[docname] = found
            keep[docname] = {"doctree": digest, "entries": found}
        indexer._index_entries.clear()  # in the order a clean build feeds them: by name
        indexer._index_entries.update(entries)
        indexer.prune(app.env.all_docs)  # as the dump does, then forget the words of no page
        for words in (indexer._mapping, indexer._title_mapping):
            for word in [word for word, docnames in words.items() if not docnames]:
                del words[word]
        if keep != kept:
            path.write_text(json.dumps(keep, sort_keys=True), encoding="utf-8")
        return dump()

    builder.index_page = index_this_page
    builder.dump_search_index = dump_whole_index


def setup(app: Sphinx) -> dict:
    app.connect("builder-inited", keep_index_entries)
    app.connect("build-finished", complete_sitemap, priority=400)  # before sphinx-sitemap's
    return {"parallel_read_safe": True, "parallel_write_safe": True}  # index_page: main process
