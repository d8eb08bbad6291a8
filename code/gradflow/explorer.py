"""Explorable figures: a line chart whose controls (a slider, a menu, a toggle) choose what it shows.

Every state the reader can reach is drawn in Python when the book is built (each line's SVG path,
each axis with its ticks and labels, by ``gradflow.chart`` on the axes of ``gradflow.axes``), with
a caption that says the state in words. The page carries them as JSON, and one small shared
script (``static/explorer.js``, with ``explorer.css``; the book's build links both from the pages
that hold an explorer) only switches between them. So each formula lives in one language, and the
figure needs no server, no kernel and no request: it works offline and from ``file://``. The
controls are labelled form controls (keyboard and screen reader), and the caption is an
``aria-live`` region that is read out as they move. Where no script runs (a notebook, the PDF
edition) the figure is its first state: as HTML without controls, or as a PNG or PDF picture drawn
by matplotlib. For example::

    from gradflow.axes import Axis, log_axis
    from gradflow.chart import Series, View
    from gradflow.explorer import Explorer, Menu, Slider

    views = {(d, a): View(f"{d} layers, {a}", {"plain": p[a][d]}) for d in depths for a in acts}
    Explorer(
        [Slider("depth", "Depth", depths), Menu("act", "Activation", {a: a for a in acts})],
        [Series("plain", "without shortcuts", "#D55E00")], views,
        x=Axis("layer", 1, 30), y=log_axis("gradient", values), alt="Line chart: ...",
    )
"""

import itertools
import json
import shutil
from collections.abc import Hashable, Mapping, Sequence
from html import escape
from importlib.resources import files
from pathlib import Path

from gradflow import chart
from gradflow.axes import Axis, finite
from gradflow.chart import Series, View

ASSETS = ("explorer.js", "explorer.css")  # in gradflow/static: what a page links, once


def asset(name: str):
    """The ``pathlib.Path`` of one of the shared files the page links (``ASSETS``)."""
    return Path(str(files("gradflow") / "static" / name))


# -- the controls ----------------------------------------------------------------------------------
class _Control:
    """A control: its ``name`` in the views' keys, its ``label`` on the page, the ``values`` it
    takes (hashable, distinct) and how each reads (``texts``)."""

    def __init__(self, name: str, label: str, values: Sequence[Hashable], texts: Sequence[str]):
        if not isinstance(name, str) or not name or not isinstance(label, str) or not label:
            raise TypeError(
                f"a control needs a name and a label (non-empty str): {name!r}, {label!r}"
            )
        self.name, self.label, self.values = name, label, list(values)
        self.texts = [str(t) for t in texts]
        if not self.values or len(set(self.values)) != len(self.values):
            raise ValueError(
                f"control {name!r} needs one or more distinct values, got {self.values}"
            )
        if len(self.texts) != len(self.values):
            raise ValueError(f"control {name!r}: {len(self.values)} values but {len(texts)} texts")

    def html(self, k: int) -> str:
        raise NotImplementedError


class Slider(_Control):
    """A slider over ``values`` in their order; ``texts`` say how each value reads."""

    def __init__(self, name, label, values, texts=None):
        super().__init__(name, label, values, texts or [str(v) for v in values])

    def html(self, k: int) -> str:
        text = escape(self.texts[k])
        return (
            f'<label>{escape(self.label)} <input type="range" min="0" max="{len(self.values) - 1}" '
            f'step="1" value="{k}" aria-valuetext="{text}"></label>'
            f'<output aria-hidden="true">{text}</output>'
        )


class Menu(_Control):
    """A menu of ``options``: {value: the text the reader sees}."""

    def __init__(self, name, label, options: Mapping[Hashable, str]):
        super().__init__(name, label, list(options), list(options.values()))

    def html(self, k: int) -> str:
        options = "".join(
            f'<option value="{escape(str(v))}"{" selected" if i == k else ""}>{escape(t)}</option>'
            for i, (v, t) in enumerate(zip(self.values, self.texts, strict=True))
        )
        return f"<label>{escape(self.label)} <select>{options}</select></label>"


class Toggle(_Control):
    """A check box, off (``False``) or on (``True``); ``texts`` say each state in a title."""

    def __init__(self, name, label, texts=("off", "on")):
        super().__init__(name, label, [False, True], texts)

    def html(self, k: int) -> str:
        checked = " checked" if k else ""
        return f'<label><input type="checkbox"{checked}> {escape(self.label)}</label>'


# -- the explorer ----------------------------------------------------------------------------------
class Explorer:
    """A chart of precomputed ``views`` whose ``controls`` choose the one shown.

    ``views`` maps every combination of the controls' values, a tuple in the order of ``controls``
    (a bare value if there is one control), to a ``View``; ``series`` lists the lines a view may
    draw. ``x`` and ``y`` are the axes of every view that brings none of its own; ``start`` sets
    controls to other values than their first for the first state; ``alt`` describes the chart to a
    screen reader. A notebook cell that ends with an explorer shows it.
    """

    def __init__(self, controls, series, views, x=None, y=None, start=None, alt=""):
        self.controls, self.series = list(controls), list(series)
        if not self.controls or not all(isinstance(c, _Control) for c in self.controls):
            raise TypeError("controls must be a non-empty list of Slider, Menu and Toggle")
        if not self.series or not all(isinstance(s, Series) for s in self.series):
            raise TypeError("series must be a non-empty list of Series")
        for things, what in ((self.controls, "control"), (self.series, "series")):
            names = [t.name for t in things]
            if len(set(names)) != len(names):
                raise ValueError(f"two {what} share a name: {names}")
        if not isinstance(alt, str) or not alt.strip():
            raise ValueError("alt must describe the chart in words for a screen reader")
        self.alt = alt
        self.views = self._check_views(views, x, y)
        start = dict(start or {})
        self.start = []
        for c in self.controls:
            value = start.pop(c.name, c.values[0])
            if value not in c.values:
                raise ValueError(
                    f"start: {value!r} is not a value of control {c.name!r}: {c.values}"
                )
            self.start.append(c.values.index(value))
        if start:
            raise ValueError(f"start names no control: {sorted(start)}")

    def _check_views(self, views, x, y) -> dict[tuple, tuple[View, Axis, Axis, list]]:
        """Each key as a tuple of values, with its view, its axes and the x positions."""
        if not isinstance(views, Mapping):
            raise TypeError("views must be a mapping {control values: View}")
        out, names = {}, {s.name for s in self.series}
        for key, view in views.items():
            key = key if isinstance(key, tuple) else (key,)
            where = f"view {key}"
            if len(key) != len(self.controls):
                raise ValueError(
                    f"{where}: its key needs one value per control ({len(self.controls)})"
                )
            for value, c in zip(key, self.controls, strict=True):
                if value not in c.values:
                    raise ValueError(f"{where}: {value!r} is not a value of control {c.name!r}")
            if not isinstance(view, View):
                raise TypeError(f"{where} is a {type(view).__name__}, not a View")
            if not isinstance(view.caption, str) or not view.caption.strip():
                raise TypeError(f"{where}: its caption must be a non-empty str")
            if not isinstance(view.y, Mapping) or set(view.y) - names:
                raise ValueError(f"{where}: y names series that are not among {sorted(names)}")
            xaxis, yaxis = view.xaxis or x, view.yaxis or y
            if not isinstance(xaxis, Axis) or not isinstance(yaxis, Axis):
                raise TypeError(f"{where} has no x and y Axis (give them to the view or explorer)")
            lengths = {len(v) for v in view.y.values()}
            xs = list(view.x) if view.x is not None else list(range(1, max(lengths, default=0) + 1))
            for name, values in view.y.items():
                if len(values) != len(xs):
                    raise ValueError(
                        f"{where}: ragged series {name!r}, {len(values)} values at "
                        f"{len(xs)} positions"
                    )
                for i, (u, v) in enumerate(zip(xs, values, strict=True)):
                    if not finite(u) or (v is not None and not finite(v)):
                        raise ValueError(f"{where}: {name!r}[{i}] is ({u!r}, {v!r}), not finite")
                    if not xaxis.holds(u) or (v is not None and not yaxis.holds(v)):
                        raise ValueError(f"{where}: {name!r}[{i}] = ({u}, {v}) is off its axes")
            out[key] = (view, xaxis, yaxis, xs)
        missing = set(itertools.product(*(c.values for c in self.controls))) - set(out)
        if missing:
            raise ValueError(
                f"no view for {len(missing)} settings of the controls, e.g. {min(missing, key=str)}"
            )
        return out

    def _parts(self, key: tuple, top: int) -> list[str]:
        """What changes between states: the x axis, the y axis and each series' path."""
        view, xaxis, yaxis, xs = self.views[key]
        return chart.parts(self.series, view, xs, xaxis, yaxis, top)

    def _key(self, indices) -> tuple:
        return tuple(c.values[i] for c, i in zip(self.controls, indices, strict=True))

    def data(self) -> dict:
        """What the page's script reads: every state, nested by the controls' positions, as
        ``[caption, indices into pool]``, the distinct drawn parts in ``pool``, and each control's
        texts."""
        _, top = chart.legend(self.series)
        pool: dict[str, int] = {}

        def state(indices: tuple) -> list:
            key = self._key(indices)
            parts = [pool.setdefault(p, len(pool)) for p in self._parts(key, top)]
            return [self.views[key][0].caption, parts]

        def nest(prefix: tuple) -> list:
            if len(prefix) == len(self.controls):
                return state(prefix)
            return [nest((*prefix, i)) for i in range(len(self.controls[len(prefix)].values))]

        states = nest(())
        return {"controls": [c.texts for c in self.controls], "pool": list(pool), "states": states}

    def svg(self) -> str:
        """The chart in its first state."""
        _, top = chart.legend(self.series)
        return chart.svg(self.series, self._parts(self._key(self.start), top), self.alt)

    def caption(self) -> str:
        """The first state in words."""
        return self.views[self._key(self.start)][0].caption

    # -- what a notebook, the site and the PDF edition show ----------------------------------------
    def _repr_html_(self) -> str:
        controls = "".join(
            f'<span class="gfx-control">{c.html(k)}</span>'
            for c, k in zip(self.controls, self.start, strict=True)
        )
        # "</" in the data would end the script element early; JSON reads "<\/" as "</"
        data = json.dumps(self.data(), ensure_ascii=False, separators=(",", ":"))
        data = data.replace("</", "<\\/")
        # the controls stay hidden until the script (explorer.js) runs: without it, a still figure
        return (
            f'<figure class="gradflow-explorer"><div class="gfx-controls" hidden>{controls}</div>'
            f'{self.svg()}<figcaption aria-live="polite">{escape(self.caption())}</figcaption>'
            f'<script type="application/json" class="gfx-data">{data}</script></figure>'
        )

    def _picture(self, fmt: str) -> bytes:
        """The first state drawn by matplotlib, as ``fmt`` ("png" or "pdf")."""
        title = ", ".join(c.texts[k] for c, k in zip(self.controls, self.start, strict=True))
        view, xaxis, yaxis, xs = self.views[self._key(self.start)]
        return chart.picture(self.series, view, xs, xaxis, yaxis, title, fmt)

    def _repr_pdf_(self) -> bytes:
        """The first state as vectors, which the PDF edition prints."""
        return self._picture("pdf")

    def _repr_png_(self) -> bytes:
        """The first state as a picture, for notebook viewers that run no script."""
        return self._picture("png")

    def __repr__(self) -> str:
        return self.caption()

    def save(self, path, title: str = "Explorer"):
        """Write the explorer as a web page of its own at ``path`` (returned as a ``pathlib.Path``),
        the shared script and style copied beside it (as the book's build puts them in
        ``_static``)."""
        path = Path(path)
        for name in ASSETS:
            shutil.copyfile(asset(name), path.parent / name)
        path.write_text(
            '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" '
            f'content="width=device-width, initial-scale=1"><title>{escape(title)}</title>'
            '<link rel="stylesheet" href="explorer.css"><script defer src="explorer.js"></script>'
            "<style>body{max-width:46rem;margin:1rem auto;padding:0 1rem;font-family:sans-serif;"
            "background:#fff;color:#222}html[data-theme=dark] body{background:#121212;"
            f"color:#ced6dd}}</style></head><body><main>{self._repr_html_()}</main></body></html>",
            encoding="utf-8",
        )
        return path
