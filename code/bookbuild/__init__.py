"""bookbuild: the book's build engine, a Sphinx extension that re-executes a lesson exactly when
something it depends on changed (``bookbuild.deps`` finds what that is), and runs the stale
lessons in parallel before Sphinx reads them. It is build tooling, not lesson code: the lessons
import nothing from here."""

# The distribution that installs gradflow (pyproject.toml's [project] name). Not "gradflow": that
# name on PyPI is another project. The import name stays gradflow.
DISTRIBUTION = "shortcut-connections"


def take_listener(app, event: str, method) -> tuple[object, int] | None:
    """Disconnect the listener of ``event`` that is ``method`` bound to an object, for a listener
    of one's own to take its place: return that object and the listener's priority (None where no
    such listener is connected)."""
    for listener in app.events.listeners[event]:
        if getattr(listener.handler, "__func__", None) is method:
            app.disconnect(listener.id)
            return listener.handler.__self__, listener.priority
    return None
