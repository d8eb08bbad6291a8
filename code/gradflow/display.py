"""What the lessons hand to the page: tables of results that render as real tables (HTML on the
site, a Markdown table typeset by LaTeX in the PDF edition, text elsewhere), and ``glue``, which
passes a measured number to the text."""

import io
import json
import math
import re
from collections.abc import Callable, Sequence
from html import escape

from gradflow.plots.style import PLAIN, RESIDUAL, plot_profiles

MARKDOWN_SPECIAL = re.compile(r"([!-/:-@\[-`{-~])")  # ASCII punctuation, escaped in Markdown
LABEL = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]*")  # a table's name, as {numref} refers to it


def glue(name: str, value, display: bool = True) -> None:
    """Hand ``value`` to the book's text under ``name`` (MyST-NB's ``glue``).

    Without MyST-NB, as in a downloaded notebook, nothing is glued: the value is shown if
    ``display`` is true, so a copied cell runs with ``gradflow`` alone.
    """
    if not isinstance(name, str) or not name:
        raise TypeError(f"name must be a non-empty str, got {name!r}")
    try:
        from myst_nb import glue as myst_glue
    except ImportError:
        if display:
            try:
                from IPython.display import display as show
            except ImportError:
                print(f"{name} = {value!r}")
            else:
                show(value)
        return
    myst_glue(name, value, display=display)


class Table:
    """A small table of results: a notebook cell that ends with one shows an HTML ``<table>``.

    In the book (site and PDF) a table with a caption is numbered, "Table 2.1", and ``{numref}``
    refers to it by ``name``, which defaults to ``tab-`` and the caption's words.
    """

    def __init__(
        self,
        columns: Sequence[str],
        rows: Sequence[Sequence],
        caption: str = "",
        formats: Sequence[str | Callable | None] | None = None,
        name: str = "",
    ):
        columns = list(columns)
        rows = [list(r) for r in rows]
        if not columns:
            raise ValueError("a table needs at least one column")
        for i, row in enumerate(rows):
            if len(row) != len(columns):
                raise ValueError(
                    f"row {i} has {len(row)} cells but the table has {len(columns)} columns"
                )
        formats = list(formats) if formats is not None else [None] * len(columns)
        if len(formats) != len(columns):
            raise ValueError(f"formats needs {len(columns)} entries (one per column)")
        if not isinstance(name, str) or (name and not LABEL.fullmatch(name)):
            raise ValueError(f"name must be a label of letters, digits and hyphens, got {name!r}")
        if name and not caption:
            raise ValueError("a table needs a caption to be numbered and referred to by name")
        self.columns, self.rows, self.caption, self.formats = columns, rows, caption, formats
        self.name = name or ("tab-" + "-".join(re.findall(r"[a-z0-9]+", caption.lower())))

    def _cell(self, value, fmt) -> str:
        if fmt is None:
            return str(value)
        if callable(fmt):
            return fmt(value)
        return format(value, fmt)

    def formatted_rows(self) -> list[list[str]]:
        """The cells as the reader sees them, formatted column by column."""
        return [[self._cell(v, f) for v, f in zip(r, self.formats, strict=True)] for r in self.rows]

    def _repr_html_(self) -> str:
        # class "dataframe": the book's theme then colours the table for light and dark mode alike
        head = "".join(f'<th scope="col">{escape(c)}</th>' for c in self.columns)
        body = "".join(
            "<tr>" + "".join(f"<td>{escape(c)}</td>" for c in row) + "</tr>"
            for row in self.formatted_rows()
        )
        caption = f"<caption>{escape(self.caption)}</caption>" if self.caption else ""
        return (
            f'<table class="gradflow-table dataframe">{caption}<thead><tr>{head}</tr></thead>'
            f"<tbody>{body}</tbody></table>"
        )

    def _repr_markdown_(self) -> str:
        # a MyST table directive, which the book prefers to the HTML above (conf.py): with its caption
        # and name, Sphinx numbers the table on the site and in the PDF
        def cell(text: str) -> str:
            return MARKDOWN_SPECIAL.sub(r"\\\1", text)

        lines = [f"```{{table}} {cell(self.caption)}".rstrip()]
        if self.caption:
            lines.append(f":name: {self.name}")
        lines += [":class: gradflow-table", ""]
        lines.append("| " + " | ".join(cell(c) for c in self.columns) + " |")
        lines.append("|" + "---|" * len(self.columns))
        lines += ["| " + " | ".join(cell(c) for c in row) + " |" for row in self.formatted_rows()]
        return "\n".join([*lines, "```"])

    def __repr__(self) -> str:
        cells = [self.columns, *self.formatted_rows()]
        widths = [max(len(r[j]) for r in cells) for j in range(len(self.columns))]
        lines = ["  ".join(c.rjust(w) for c, w in zip(r, widths, strict=True)) for r in cells]
        return "\n".join(([self.caption] if self.caption else []) + lines)


# -- An interactive figure that needs no server ----------------------------------------------------
# Its data and a small script travel inside its HTML, so it works offline, from file:// and in a
# downloaded notebook. Text and axes take the page's colour (currentColor), so it reads in light and
# dark mode; the two series keep the book's colours and differ by dash as well.
ACTIVATION_LABELS = {"gelu": "GELU", "sigmoid": "sigmoid", "tanh": "tanh", "relu": "ReLU"}
# the drawing in SVG units: its width and height, and the plot area's left, right, top and bottom
FRAME = {"w": 560, "h": 350, "l": 80, "r": 544, "t": 48, "b": 288}

# Redraws the curves, the layer axis and the caption: the arithmetic of ProfileExplorer's methods of
# the same names, which draw the first state (so the figure shows before, or without, the script).
EXPLORER_JS = r"""(() => {
const fig = document.currentScript.closest("figure");
const data = JSON.parse(fig.querySelector("script[type='application/json']").textContent);
const F = data.frame, depth = fig.querySelector("input"), act = fig.querySelector("select");
const decade = (k) => "10" + String(k).replace(/[-0-9]/g, (c) => "⁻⁰¹²³⁴⁵⁶⁷⁸⁹"["-0123456789".indexOf(c)]);
const sci = (v) => { const [m, e] = v.toExponential(2).split("e"); return m + " × " + decade(+e); };
const big = (r) => r >= 1000 ? sci(r) : r.toPrecision(3);
const y = (v) => F.b - (Math.log10(v) - data.ylim[0]) / (data.ylim[1] - data.ylim[0]) * (F.b - F.t);
const x = (i, d) => F.l + (i - 1) / (d - 1) * (F.r - F.l);
function path(vals) {  // a layer whose gradient is exactly 0 is a gap in the line
  let d = "", pen = "M";
  vals.forEach((v, i) => {
    if (v > 0) { d += pen + x(i + 1, vals.length).toFixed(1) + "," + y(v).toFixed(1); pen = "L"; }
    else pen = "M";
  });
  return d;
}
function xticks(d) {
  const step = [1, 2, 5, 10, 20, 50].find((s) => d / s <= 8), out = step > 1 ? [1] : [];
  for (let i = step; i <= d; i += step) out.push(i);
  return out;
}
function caption(d, label, p, r) {
  const value = (v) => v > 0 ? sci(v) : "exactly 0";
  let text = `Depth ${d}, ${label}: the first layer's mean |∂ℒ/∂W| is ${value(p)} without shortcuts and ${value(r)} with them`;
  if (p > 0 && r > 0) text += r >= p ? `, ${big(r / p)} times larger.` : `, ${big(p / r)} times smaller.`;
  return p > 0 && r > 0 ? text : text + ".";
}
function draw() {
  const d = +depth.value, s = data.series[act.value], k = data.depths.indexOf(d);
  fig.querySelector("path.plain").setAttribute("d", path(s.plain[k]));
  fig.querySelector("path.residual").setAttribute("d", path(s.residual[k]));
  fig.querySelector("output").value = d;
  fig.querySelector("g.xticks").innerHTML = xticks(d).map((i) => {
    const at = x(i, d).toFixed(1);
    return `<line x1="${at}" x2="${at}" y1="${F.b}" y2="${F.b + 5}" stroke="currentColor"></line>` +
      `<text x="${at}" y="${F.b + 22}" text-anchor="middle">${i}</text>`;
  }).join("");
  fig.querySelector("figcaption").textContent = caption(d, s.label, s.plain[k][0], s.residual[k][0]);
}
depth.addEventListener("input", draw);
act.addEventListener("input", draw);
})();"""


def _decade(k: int) -> str:
    """10 to the power ``k``, with a superscript exponent: '10⁻⁵'."""
    return "10" + str(k).translate(str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹"))


def _sci(value: float) -> str:
    """Three significant digits in scientific notation: '1.23 × 10⁻⁵'."""
    mantissa, exponent = f"{value:.2e}".split("e")
    return f"{mantissa} × {_decade(int(exponent))}"


class ProfileExplorer:
    """An interactive figure: each layer's ``mean |dL/dW|`` without and with shortcuts, over depth.

    ``profiles[activation][depth]`` holds the per-layer values ``"plain"`` and ``"residual"``, as
    ``gradflow.experiments.shortcut_connections.depth_profiles`` returns them. On a web page a slider
    sets the depth and a menu the activation, and a caption says what the figure shows; elsewhere
    (the PDF edition) it is a static picture of its first state.
    """

    def __init__(self, profiles: dict, depth: int = 10, activation: str | None = None):
        if not isinstance(profiles, dict) or not profiles:
            raise TypeError("profiles must be a non-empty dict {activation: {depth: profiles}}")
        first = next(iter(profiles))
        self.depths = sorted(profiles[first])
        if (
            not self.depths
            or self.depths[0] < 2
            or self.depths != list(range(self.depths[0], self.depths[-1] + 1))
        ):
            raise ValueError(f"the depths must be consecutive ints >= 2, got {self.depths}")
        values = []
        for name, by_depth in profiles.items():
            if sorted(by_depth) != self.depths:
                raise ValueError(f"activation {name!r} has other depths than {first!r}")
            for d, pair in by_depth.items():
                for kind in ("plain", "residual"):
                    series = pair.get(kind) if isinstance(pair, dict) else None
                    if series is None or len(series) != d:
                        raise ValueError(f"profiles[{name!r}][{d}] needs {kind!r}: {d} values")
                    if not all(math.isfinite(v) and v >= 0 for v in series):
                        raise ValueError(
                            f"profiles[{name!r}][{d}][{kind!r}] has a negative or "
                            "infinite value: a mean |gradient| is finite and >= 0"
                        )
                    values += [v for v in series if v > 0]
        if not values:
            raise ValueError("every value is 0: a logarithmic axis has nothing to show")
        if activation is None:
            activation = first
        if activation not in profiles:
            raise ValueError(f"activation {activation!r} is not among {list(profiles)}")
        if depth not in self.depths:
            raise ValueError(f"depth {depth!r} is not among the depths {self.depths}")
        self.profiles, self.depth, self.activation = profiles, depth, activation
        # one vertical axis for every setting, whole decades: moving a control never rescales it
        self.ylim = (math.floor(math.log10(min(values))), math.ceil(math.log10(max(values))))

    def _label(self, name: str) -> str:
        return ACTIVATION_LABELS.get(name, name)

    def _y(self, v: float) -> float:
        lo, hi = self.ylim
        return FRAME["b"] - (math.log10(v) - lo) / (hi - lo) * (FRAME["b"] - FRAME["t"])

    @staticmethod
    def _x(i: int, d: int) -> float:
        return FRAME["l"] + (i - 1) / (d - 1) * (FRAME["r"] - FRAME["l"])

    def path(self, values: Sequence[float]) -> str:
        """The SVG path of one profile; a layer whose gradient is exactly 0 is a gap in the line."""
        d, pen = "", "M"
        for i, v in enumerate(values, start=1):
            if v > 0:
                d += f"{pen}{self._x(i, len(values)):.1f},{self._y(v):.1f}"
                pen = "L"
            else:
                pen = "M"
        return d

    @staticmethod
    def xticks(depth: int) -> list[int]:
        """The layers labelled on the horizontal axis: 1 and multiples of a step, at most 8."""
        step = next(s for s in (1, 2, 5, 10, 20, 50) if depth / s <= 8)
        return [*([1] if step > 1 else []), *range(step, depth + 1, step)]

    def caption(self) -> str:
        """The current state in words, which a screen reader reads out as the controls move."""
        pair = self.profiles[self.activation][self.depth]
        p, r = pair["plain"][0], pair["residual"][0]

        def value(v: float) -> str:
            return _sci(v) if v > 0 else "exactly 0"

        def big(ratio: float) -> str:
            return _sci(ratio) if ratio >= 1000 else f"{ratio:#.3g}"

        text = (
            f"Depth {self.depth}, {self._label(self.activation)}: the first layer's mean |∂ℒ/∂W| "
            f"is {value(p)} without shortcuts and {value(r)} with them"
        )
        if p > 0 and r > 0:
            return text + (
                f", {big(r / p)} times larger." if r >= p else f", {big(p / r)} times smaller."
            )
        return text + "."

    def data(self) -> dict:
        """What the page's script draws from: every profile, to four significant digits."""
        series = {
            name: {
                "label": self._label(name),
                **{
                    kind: [[float(f"{v:.4g}") for v in by_depth[d][kind]] for d in self.depths]
                    for kind in ("plain", "residual")
                },
            }
            for name, by_depth in self.profiles.items()
        }
        return {"depths": self.depths, "ylim": list(self.ylim), "frame": FRAME, "series": series}

    def svg(self) -> str:
        """The drawing in its first state: axes, labelled decades, legend and the two profiles."""
        f, (lo, hi) = FRAME, self.ylim
        every = next(s for s in (1, 2, 3, 4, 5, 10, 20) if (hi - lo) / s <= 7)  # labelled decades
        parts = []
        for k in range(lo, hi + 1):
            y = f"{self._y(10.0**k):.1f}"
            parts.append(
                f'<line x1="{f["l"] - 4}" x2="{f["l"]}" y1="{y}" y2="{y}" stroke="currentColor"/>'
            )
            if k % every == 0:
                parts.append(
                    f'<line x1="{f["l"]}" x2="{f["r"]}" y1="{y}" y2="{y}" stroke="currentColor" '
                    f'stroke-opacity="0.15"/><text x="{f["l"] - 8}" y="{float(y) + 5:.1f}" '
                    f'text-anchor="end">{_decade(k)}</text>'
                )
        d = self.depth
        xticks = "".join(
            f'<line x1="{self._x(i, d):.1f}" x2="{self._x(i, d):.1f}" y1="{f["b"]}" y2="{f["b"] + 5}" '
            f'stroke="currentColor"></line><text x="{self._x(i, d):.1f}" y="{f["b"] + 22}" '
            f'text-anchor="middle">{i}</text>'
            for i in self.xticks(d)
        )
        legend = "".join(
            f'<line x1="{x}" x2="{x + 30}" y1="17" y2="17" stroke="{color}" stroke-width="2.5"{dash}/>'
            f'<text x="{x + 38}" y="23">{label}</text>'
            for x, color, dash, label in (
                (f["l"], PLAIN, "", "without shortcuts"),
                (f["l"] + 230, RESIDUAL, ' stroke-dasharray="7 4"', "with shortcuts"),
            )
        )
        pair = self.profiles[self.activation][d]
        return (
            f'<svg viewBox="0 0 {f["w"]} {f["h"]}" role="img" fill="currentColor" font-size="17" '
            'style="display:block;width:100%;max-width:40rem;height:auto" aria-label="Line chart, '
            "logarithmic vertical axis: the mean absolute weight gradient of each layer, from the "
            "input to the output, without shortcuts (vermilion, solid) and with them (blue, "
            'dashed)">'
            + "".join(parts)
            + f'<line x1="{f["l"]}" x2="{f["l"]}" y1="{f["t"]}" y2="{f["b"]}" stroke="currentColor"/>'
            f'<line x1="{f["l"]}" x2="{f["r"]}" y1="{f["b"]}" y2="{f["b"]}" stroke="currentColor"/>'
            f'<g class="xticks">{xticks}</g>'
            f'<text x="{(f["l"] + f["r"]) / 2}" y="{f["h"] - 8}" text-anchor="middle">'
            "layer (1 = next to the input)</text>"
            f'<text transform="translate(18 {(f["t"] + f["b"]) / 2}) rotate(-90)" '
            'text-anchor="middle">mean |∂ℒ/∂W|</text>'
            f'<path class="plain" d="{self.path(pair["plain"])}" fill="none" '
            f'stroke="{PLAIN}" stroke-width="2.5"/>'
            f'<path class="residual" d="{self.path(pair["residual"])}" fill="none" '
            f'stroke="{RESIDUAL}" stroke-width="2.5" stroke-dasharray="7 4"/>'
            f"{legend}</svg>"
        )

    def _repr_html_(self) -> str:
        options = "".join(
            f'<option value="{escape(n)}"{" selected" if n == self.activation else ""}>'
            f"{escape(self._label(n))}</option>"
            for n in self.profiles
        )
        controls = (
            '<div style="display:flex;flex-wrap:wrap;gap:0.5rem 1.5rem;align-items:center">'
            f'<label>Depth <input type="range" min="{self.depths[0]}" max="{self.depths[-1]}" '
            f'step="1" value="{self.depth}" style="vertical-align:middle"> '
            f"<output>{self.depth}</output> layers</label>"
            f"<label>Activation <select>{options}</select></label></div>"
        )
        # "</" in the data would end the script element early; JSON reads "<\/" as "</"
        data = json.dumps(self.data(), ensure_ascii=False, separators=(",", ":"))
        data = data.replace("</", "<\\/")
        return (
            f'<figure class="gradflow-explorer" style="margin:0.5rem 0">{controls}{self.svg()}'
            # the page's text colour: the theme's muted caption grey is too faint on a dark page
            '<figcaption aria-live="polite" style="color:inherit;text-align:left">'
            f"{escape(self.caption())}</figcaption>"
            f'<script type="application/json">{data}</script>'
            f"<script>{EXPLORER_JS}</script></figure>"
        )

    def _picture(self, fmt: str) -> bytes:
        """The first state drawn by matplotlib, as ``fmt`` ("png" or "pdf")."""
        pair = self.profiles[self.activation][self.depth]
        gaps = {k: [v if v > 0 else float("nan") for v in pair[k]] for k in pair}  # 0: no point
        fig = plot_profiles(
            {
                f"depth {self.depth}, {self._label(self.activation)}": {
                    "without shortcuts": gaps["plain"],
                    "with shortcuts": gaps["residual"],
                }
            },
            colors={"without shortcuts": PLAIN, "with shortcuts": RESIDUAL},
            ylabel="mean |∂ℒ/∂W|",
            xlabel="layer (1 = next to the input)",
            figsize=(5.6, 3.4),
        )
        buffer = io.BytesIO()
        # no creation date or software version: two builds write the same bytes
        metadata = {"CreationDate": None} if fmt == "pdf" else {"Software": None}
        fig.savefig(buffer, format=fmt, dpi=200, metadata=metadata)
        return buffer.getvalue()

    def _repr_pdf_(self) -> bytes:
        """The first state as vectors, which the PDF edition prints."""
        return self._picture("pdf")

    def _repr_png_(self) -> bytes:
        """The first state as a picture, for notebook viewers that run no script."""
        return self._picture("png")

    def __repr__(self) -> str:
        return self.caption()
