"""bookbuild: the book's build engine, a Sphinx extension that re-executes a lesson exactly when
something it depends on changed (``bookbuild.deps`` finds what that is), and runs the stale
lessons in parallel before Sphinx reads them. It is build tooling, not lesson code: the lessons
import nothing from here."""

# The distribution that installs gradflow (pyproject.toml's [project] name). Not "gradflow": that
# name on PyPI is another project. The import name stays gradflow.
DISTRIBUTION = "shortcut-connections"
