"""A Sphinx extension that makes MyST-NB's execution cache never stale and runs stale lessons in
parallel.

MyST-NB's cache (jupyter-cache) keys a notebook on its code cells only: after a change to the
package a lesson imports, it would serve the old outputs. Before Sphinx reads anything, this
extension fingerprints every lesson's dependencies (``bookbuild.deps``) and keeps each execution's
fingerprint in its own cache record (the record's ``data``). An execution whose fingerprint differs
from the lesson's is dropped, and the lesson executes again; the lessons that must execute run in
parallel, one process per core, and their results go into the cache, where MyST-NB then finds them.
Any build of the same sources, in any output folder, so reuses a valid execution: the tests' build
and the PDF after the site's build execute nothing.

Whether a page must be read again is a question for each build's own pages: the fingerprints its
pages were made from are saved beside its doctrees (``bookbuild.json``), only when the build
succeeds, so a failed build never leaves a page marked as done. A lesson whose execution is newer
than its page is read again, and so is every page that pastes glued values from it.

A build parses each lesson once (``lesson``), and what parsing finds in the lessons, the modules and
the installed packages' metadata is kept beside the doctrees by the digest of the text parsed
(``bookbuild-parses.json``, ``deps.Parses``): a build that changed nothing parses nothing.

Configuration (conf.py): ``nb_execution_mode = "cache"`` and ``nb_execution_cache_path``.
"""

import json
import multiprocessing
import os
import re
import time
import tomllib
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from sphinx.util import logging

from bookbuild import deps, take_listener

logger = logging.getLogger(__name__)
STATE = "bookbuild.json"  # the fingerprints of the last successful build, beside its doctrees
PARSES = "bookbuild-parses.json"  # what parsing found, by the digest of each text (deps.Parses)
# a value or figure glued on another page: {glue:text}`path::key` or {pasted-figure} path::key
PASTE = re.compile(r"(?:\{glue(?::\w+)?\}`|\{pasted-figure\}\s+)([^`\s]+?\.(?:md|ipynb))::")


def is_lesson(path: Path) -> bool:
    """Whether ``path`` is a MyST-NB notebook in Markdown (its front matter says so)."""
    if path.suffix != ".md" or not path.is_file():
        return False
    text = path.read_text(encoding="utf-8")
    return text.startswith("---") and "file_format: mystnb" in text.split("---", 2)[1]


def _execute(path: str, timeout: int) -> tuple[str, object, str | None, float]:
    """Execute one lesson as MyST-NB would (in its own folder); return the executed notebook, the
    error if a cell raised, and the seconds it took."""
    from jupyter_cache.executors.utils import single_nb_execution
    from myst_nb.core.read import read_myst_markdown_notebook

    start = time.perf_counter()
    notebook = read_myst_markdown_notebook(Path(path).read_text(encoding="utf-8"))
    result = single_nb_execution(
        notebook,
        cwd=str(Path(path).parent),
        allow_errors=False,
        timeout=timeout,
        meta_override=True,
        # the kernel's own warnings (such as "running over TCP without encryption") stay out of
        # the build log; a cell's errors still reach it through the notebook
        extra_arguments=["--IPKernelApp.log_level=ERROR"],
    )
    error = None if result.err is None else result.exc_string
    return path, notebook, error, time.perf_counter() - start


def _cache(app):
    from jupyter_cache import get_cache

    return get_cache(app.config.nb_execution_cache_path)


def parses(app) -> deps.Parses:
    """This build's ``deps.Parses``, kept beside its doctrees."""
    if getattr(app, "bookbuild_parses", None) is None:
        app.bookbuild_parses = deps.Parses(Path(app.doctreedir) / PARSES)
    return app.bookbuild_parses


def lesson(app, path: Path):
    """The lesson at ``path`` as MyST-NB reads it (a notebook of the caller's own, with each cell's
    first source line in its metadata, ``source_map``), parsed once per text."""
    return parses(app).notebook(path.read_text(encoding="utf-8"))


def _record(app, cache, path: Path):
    """The cache record of the lesson at ``path`` (matched on its code cells), or None. The key
    the cache files it under (a hash of the code cells) is kept with what parsing found."""
    from jupyter_cache.cache.db import NbCacheRecord

    text = path.read_text(encoding="utf-8")
    hashkey = parses(app).get(
        "jupyter-cache hash",
        text,
        lambda: cache.create_hashed_notebook(parses(app).notebook(text))[1],
    )
    try:
        return NbCacheRecord.record_from_hashkey(hashkey, cache.db)
    except KeyError:
        return None


def lesson_budgets(root: Path) -> dict[str, float]:
    """Each lesson's execution budget in seconds ([tool.book] lesson-budgets of pyproject.toml)."""
    path = root / "pyproject.toml"
    if not path.is_file():
        return {}
    return tomllib.loads(path.read_text()).get("tool", {}).get("book", {}).get("lesson-budgets", {})


def _execute_in_parallel(app, lessons: dict[Path, dict]) -> None:
    """Execute ``lessons`` (path: fingerprint), one process per core; cache each success with its
    fingerprint."""
    from jupyter_cache.base import CacheBundleIn

    if not lessons:
        return
    cache = _cache(app)
    # the longest first (by the budgets in pyproject.toml), so that the processes finish together
    budgets = lesson_budgets(Path(app.confdir))
    todo = sorted((str(p) for p in lessons), key=lambda p: (-budgets.get(Path(p).stem, 0), p))
    workers = min(len(todo), os.cpu_count() or 1)
    logger.info(f"[bookbuild] executing {len(todo)} lesson(s) in {workers} process(es)")
    context = multiprocessing.get_context("spawn")
    timeout = app.config.nb_execution_timeout
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        for path, notebook, error, seconds in pool.map(_execute, todo, [timeout] * len(todo)):
            # only a success is cached; MyST-NB runs a failure again and reports it
            if error is None:
                logger.info(
                    f"[bookbuild] {os.path.relpath(path, app.confdir)}: executed in {seconds:.0f} s"
                )
                data = {"fingerprint": lessons[Path(path)]}
                bundle = CacheBundleIn(notebook, path, data=data)
                cache.cache_notebook_bundle(bundle, check_validity=False, overwrite=True)
            else:
                logger.info(f"[bookbuild] {path} raised; MyST-NB runs it again to report the error")


def on_env_get_outdated(app, env, added, changed, removed) -> list[str]:
    """Name the pages to read again, forget stale executions and execute what must run."""
    root = Path(app.confdir)
    state_path = Path(app.doctreedir) / STATE
    saved = json.loads(state_path.read_text()) if state_path.is_file() else {}
    cache = _cache(app)
    state, stale, reread, execute = {}, set(), set(added) | set(changed), {}
    found = parses(app)
    runtime = deps.environment(root, found)
    for docname in sorted(env.found_docs):
        path = Path(env.doc2path(docname))
        if not is_lesson(path):
            continue
        key = path.relative_to(root).as_posix()
        state[key] = deps.fingerprint(path, root, runtime=runtime, parses=found)
        record = _record(app, cache, path)
        executed_with = (record.data or {}).get("fingerprint") if record is not None else None
        if executed_with != state[key]:
            for old in cache.list_cache_records():  # this lesson's executions are all stale
                if Path(old.uri).resolve() == path.resolve():
                    cache.remove_cache(old.pk)
            execute[path] = state[key]
            stale.add(docname)
            why = deps.changes(executed_with, state[key])
            logger.info(f"[bookbuild] {key}: executes again ({', '.join(why)})")
        elif saved.get(key) != state[key] and docname not in reread:
            stale.add(docname)  # this build's page was made from an older execution
            logger.info(f"[bookbuild] {key}: page read again, from the cached execution")
        elif docname not in reread:
            logger.info(f"[bookbuild] {key}: dependencies unchanged, page and execution reused")
    reread |= stale
    # a page that pastes glued values from a lesson read again must be read again too
    for docname in sorted(env.found_docs - reread):
        path = Path(env.doc2path(docname))
        if path.suffix == ".md" and path.is_file():
            for target in PASTE.findall(path.read_text(encoding="utf-8")):
                source = (path.parent / target).resolve().with_suffix("")
                if any(source == Path(env.doc2path(d)).resolve().with_suffix("") for d in reread):
                    stale.add(docname)
                    logger.info(f"[bookbuild] {docname}: read again (pastes values from {target})")
                    break
    app.bookbuild_state = state
    _execute_in_parallel(app, execute)
    return sorted(stale)


def on_build_finished(app, exception) -> None:
    """Save the fingerprints, but only after a build that succeeded; save what parsing found
    after any build (it is true of its texts whatever the build did)."""
    if getattr(app, "bookbuild_parses", None) is not None:
        app.bookbuild_parses.save()
    state = getattr(app, "bookbuild_state", None)
    if exception is None and state is not None and app.statuscode == 0:
        path = Path(app.doctreedir) / STATE
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(state, indent=1, sort_keys=True) + "\n")


def number_after_reading(app) -> None:
    """Number figures, tables and sections only in a build that read or removed a page.

    Sphinx's toctree collector numbers them again in every build, loading every page's doctree (a
    second of a build that changed nothing). The numbers come from the pages alone (their toctrees,
    sections and figures; a change to the settings that number them reads every page again), and
    the environment keeps them: the build that last read a page saved them with it. So a build that
    read and removed nothing keeps its environment's numbers, which are the numbers it would
    compute."""
    from sphinx.environment.collectors.toctree import TocTreeCollector

    taken = take_listener(app, "env-get-updated", TocTreeCollector.get_updated_docs)
    if taken is None:
        return
    (collector, priority), purged = taken, []

    def purge(app, env, docname: str) -> None:  # before a page is read again, or when it is gone
        purged.append(docname)

    def updated(app, env) -> list[str]:
        return collector.get_updated_docs(app, env) if purged else []

    app.connect("env-purge-doc", purge)
    app.connect("env-get-updated", updated, priority=priority)


def not_a_configuration_dump(record) -> bool:
    """Whether a log record is not MyST's or MyST-NB's dump of its whole configuration."""
    return not (record.args and type(record.args[-1]).__name__.endswith("ParserConfig"))


def quiet_configuration_dumps() -> None:
    """MyST and MyST-NB log their whole configuration in every build, two lines of a thousand
    characters each; the build log keeps the book's own lines (issue 21). One filter, added once
    however many builds a process runs."""
    import logging as std_logging

    for name in ("sphinx.myst_parser.sphinx_ext.main", "sphinx.myst_nb.sphinx_ext"):
        std_logging.getLogger(name).addFilter(not_a_configuration_dump)


def setup(app):
    quiet_configuration_dumps()
    number_after_reading(app)
    app.connect("env-get-outdated", on_env_get_outdated)
    app.connect("build-finished", on_build_finished)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
