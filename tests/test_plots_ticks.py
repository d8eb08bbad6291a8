"""Protects axes a reader can read (issue 23): every axis of every figure of gradflow.plots shows at
least two labelled ticks within its view, read from the figure's objects after drawing, on small
synthetic data, including the log axes narrower than two decades that once showed one label or
none (the transformer chapter's fig-tf-shortcut-gradients and fig-tf-pre-post-gradients); and the
log axes' labels (gradflow.plots.style.LogTickFormatter) say the tick's value."""

import math
from types import SimpleNamespace

import matplotlib
import numpy as np
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg

matplotlib.use("Agg")

from gradflow.plots import shortcut_connections as sc  # noqa: E402
from gradflow.plots import shortcuts_in_training as st  # noqa: E402
from gradflow.plots import training_transformers as tt  # noqa: E402
from gradflow.plots import vanishing_gradients as vg  # noqa: E402
from gradflow.plots import why_residuals_work as wr  # noqa: E402
from gradflow.plots.style import (  # noqa: E402
    PLAIN,
    RESIDUAL,
    LogTickFormatter,
    ReadableLogLocator,
    plot_profiles,
)
from gradflow.plots.transformer_block import NORM_COLORS  # noqa: E402


def labelled_ticks(ax, which: str) -> list[str]:
    """The non-empty labels of the visible major ticks of ``ax``'s ``which`` axis within its view."""
    axis = ax.xaxis if which == "x" else ax.yaxis
    lo, hi = sorted(ax.get_xlim() if which == "x" else ax.get_ylim())
    slack = 1e-9 * max(abs(lo), abs(hi))
    shown = []
    for tick, loc in zip(axis.get_major_ticks(), axis.get_majorticklocs(), strict=False):
        texts = [lab.get_text() for lab in (tick.label1, tick.label2) if lab.get_visible()]
        if tick.get_visible() and lo - slack <= loc <= hi + slack and any(t.strip() for t in texts):
            shown.append(next(t for t in texts if t.strip()))
    return shown


def labels_hidden_for_a_sibling(ax, which: str) -> bool:
    """``ax`` shares this axis with another panel and shows no tick labels of its own (subplots'
    sharex/sharey label the outer panels only): the panel that labels it is checked instead."""
    shared = ax.get_shared_x_axes() if which == "x" else ax.get_shared_y_axes()
    axis = ax.xaxis if which == "x" else ax.yaxis
    ticks = axis.get_major_ticks()
    hidden = not any(t.label1.get_visible() or t.label2.get_visible() for t in ticks)
    return hidden and len(shared.get_siblings(ax)) > 1


def draw(fig) -> None:
    """Draw ``fig`` (detached from pyplot by ``finish``) on an Agg canvas: tick labels get text."""
    FigureCanvasAgg(fig).draw()


def assert_readable(fig) -> None:
    """Every axis of every visible panel of ``fig`` has >= 2 labelled ticks in view (a colorbar:
    its long axis)."""
    draw(fig)
    for i, ax in enumerate(fig.axes):
        if not ax.get_visible():
            continue
        if ax.get_label() == "<colorbar>":
            which = ("y",) if ax.get_position().height > ax.get_position().width else ("x",)
        else:
            which = ("x", "y")
        for w in which:
            if labels_hidden_for_a_sibling(ax, w):
                continue
            labels = labelled_ticks(ax, w)
            scale = ax.get_xscale() if w == "x" else ax.get_yscale()
            assert len(labels) >= 2, f"panel {i}, {w} axis ({scale}): labels {labels}"


def profile(lo: float, hi: float, n: int) -> np.ndarray:
    """A smooth per-block profile from ``lo`` to ``hi`` (geometric), n blocks."""
    return np.geomspace(lo, hi, n)


# each figure function with synthetic data shaped as its chapter's, at ranges that test the ticks
FIGURES = {
    # fig-tf-shortcut-gradients: about one decade (once one label, 10^0)
    "tf-shortcut-gradients": lambda: plot_profiles(
        {
            "12 blocks": {
                "with shortcuts": profile(0.6, 0.4, 12),
                "without shortcuts": profile(1.5, 3.0, 12),
            },
            "48 blocks": {
                "with shortcuts": profile(0.5, 0.3, 48),
                "without shortcuts": profile(1.2, 4.0, 48),
            },
        },
        colors={"with shortcuts": RESIDUAL, "without shortcuts": PLAIN},
    ),  # fmt: skip
    # fig-tf-pre-post-gradients: less than a decade, between two decades (once no label at all)
    "tf-pre-post-gradients": lambda: plot_profiles(
        {
            f"{d} blocks": {"pre-LN": profile(0.25, 0.15, d), "post-LN": profile(0.4, 0.45, d)}
            for d in (6, 12, 24)
        },
        colors=NORM_COLORS,
    ),
    "narrow log range": lambda: plot_profiles(
        {"one": {"a": [0.31, 0.32, 0.33]}}, colors={"a": RESIDUAL}
    ),
    "wide log range": lambda: plot_profiles(
        {"one": {"a": profile(1e-30, 1.0, 40)}}, colors={"a": RESIDUAL}
    ),
    "grouped_bars": lambda: sc.grouped_bars(
        ["1", "2", "3"], {"plain": [2e-4, 1e-2, 0.3], "residual": [0.2, 0.25, 0.3]}
    ),
    "plot_training_curves": lambda: st.plot_training_curves(
        {
            f"{d} layers": [
                SimpleNamespace(
                    spec=SimpleNamespace(depth=d, use_shortcut=sc_),
                    history=SimpleNamespace(
                        steps=[0, 100, 200],
                        train_loss=[2.3, 0.9 + s, 0.5],
                        test_accuracy=[0.1, 0.8, 0.9],
                    ),
                )
                for s in (0.0, 0.1)
            ]
            for d, sc_ in ((8, False), (32, True))
        }
    ),  # fmt: skip
    "plot_depth_sweep": lambda: st.plot_depth_sweep(
        {
            "plain": SimpleNamespace(
                depths=[2, 5, 10, 20],
                first_grad_norm=[1, 1e-2, 1e-5, 1e-9],
                hidden_rms=[0.5, 0.3, 0.2, 0.1],
            ),
            "residual": SimpleNamespace(
                depths=[2, 5, 10, 20], first_grad_norm=[1, 2, 3, 4], hidden_rms=[1, 2, 4, 8]
            ),
        },
        colors=[PLAIN, RESIDUAL],
    ),  # fmt: skip
    "plot_loss_contours": lambda: st.plot_loss_contours(
        {"plain": np.add.outer(np.linspace(-1, 1, 9) ** 2, np.linspace(-1, 1, 9) ** 2)},
        coords=np.linspace(-1, 1, 9),
        levels=[0.1, 0.2, 0.5, 1.0, 2.0],
    ),
    "plot_shortcut_training": lambda: tt.plot_shortcut_training(
        {
            (d, s): [
                SimpleNamespace(
                    history=SimpleNamespace(
                        steps=[0, 50, 100],
                        train_loss=[2.3, 1.0 + s, 0.3],
                        test_accuracy=[0, 0.5, 0.9],
                    )
                )
            ]
            for d in (2, 8)
            for s in (False, True)
        },
        guess=math.log(10),
    ),  # fmt: skip
    "plot_convergence": lambda: tt.plot_convergence(
        {s: np.random.default_rng(0).normal(size=(9, 11, 32)) for s in (False, True)},
        {s: list(np.linspace(0.25, 1.0, 9)) for s in (False, True)},
    ),
    "plot_activations": lambda: vg.plot_activations(points=51),
    "plot_depth_profiles": lambda: vg.plot_depth_profiles(
        {
            "sigmoid": {5: list(profile(1e-4, 1e-1, 5)), 10: list(profile(1e-8, 1e-1, 10))},
            "relu": {5: list(profile(0.5, 1.0, 5)), 10: list(profile(0.4, 1.0, 10))},
        }
    ),  # fmt: skip
    "plot_init_sweep": lambda: vg.plot_init_sweep(
        {"tanh": {"Xavier": list(profile(0.05, 0.1, 10)), "c = 2": list(profile(1e3, 1, 10))}}
    ),
    "plot_training": lambda: vg.plot_training(
        {
            "deep": SimpleNamespace(
                steps=[0, 10, 20],
                train_loss=[2.3, 2.3, 2.2],
                relative_update=[[1e-3, 1e-2], [2e-3, 1e-2]],
            )
        },
        "deep",
        [1, 2],
    ),  # fmt: skip
    "plot_identity": lambda: wr.plot_identity(
        {
            task: {
                "plain": ([0, 10, 20], [1.0, 0.5, 0.3]),
                "residual": ([0, 10, 20], [0.1, 0.0, 0.0]),
            }
            for task in ("identity", "sine")
        }
    ),  # fmt: skip
    "plot_paths": lambda: wr.plot_paths(
        {
            d: SimpleNamespace(
                counts=[math.comb(d, k) for k in range(d + 1)],
                n_blocks=d,
                gradient=profile(1.0, 0.3**d, d + 1),
                total=np.array([math.comb(d, k) * 0.3**k for k in range(d + 1)]),
                peak=1,
            )
            for d in (4, 8)
        }
    ),  # fmt: skip
    "plot_shattering": lambda: wr.plot_shattering(
        SimpleNamespace(
            depths=[2, 8, 32],
            line={
                "plain": np.array([[0.9, 0.8], [0.4, 0.3], [0.0, 0.1]]),
                "residual": np.array([[0.9, 0.9], [0.8, 0.7], [0.6, 0.5]]),
            },
            uncentred={
                "plain": np.array([[0.9, 0.8], [0.6, 0.5], [0.5, 0.5]]),
                "residual": np.array([[0.95, 0.9], [0.9, 0.85], [0.8, 0.8]]),
            },
            singular_values={"plain": profile(4.0, 0.2, 16), "residual": profile(3.0, 0.5, 16)},
        ),
        lag=1,
    ),  # fmt: skip
    "plot_lesions": lambda: wr.plot_lesions(
        {
            "residual": SimpleNamespace(
                single=[0.9, 0.85, 0.88], baseline=0.92, several={1: 0.87, 2: 0.8, 3: 0.6}
            )
        },
        draws=5,
    ),  # fmt: skip
    "plot_init": lambda: wr.plot_init(
        {
            "plain": SimpleNamespace(
                rms=profile(1.0, 0.5, 9),
                history=SimpleNamespace(steps=[0, 5, 10], train_loss=[2.3, 2.0, 1.9]),
            )
        }
    ),  # fmt: skip
}


@pytest.mark.parametrize("name", FIGURES)
def test_every_axis_has_two_labelled_ticks(name):
    assert_readable(FIGURES[name]())


def test_transformer_profiles_label_more_than_one_decade():
    """The figure of issue 23 that had no label: its view (about 0.14 to 0.46) holds no decade and
    one 1-2-5 step (0.2), so every digit is labelled: 2, 3 and 4 times 10⁻¹."""
    fig = FIGURES["tf-pre-post-gradients"]()
    draw(fig)
    labels = labelled_ticks(fig.axes[0], "y")
    assert labels == [rf"$\mathdefault{{{d}\times10^{{-1}}}}$" for d in (2, 3, 4)]


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (1.0, "10^{0}"),
        (1e-5, "10^{-5}"),
        (0.2, r"2\times10^{-1}"),
        (5e3, r"5\times10^{3}"),
        (0.099996, "10^{-1}"),  # rounds up to the decade
        (0.95, r"9.5\times10^{-1}"),
    ],
)
def test_log_tick_labels(value, text):
    assert LogTickFormatter()(value) == rf"$\mathdefault{{{text}}}$"
    assert LogTickFormatter()(0.0) == ""


@pytest.mark.parametrize(
    ("lo", "hi", "expected"),
    [
        (0.05, 50.0, [0.1, 1.0, 10.0]),  # three decades in view: decades alone
        (0.3, 4.0, [0.5, 1.0, 2.0]),  # one decade: 1-2-5 steps
        (0.085, 0.45, [0.1, 0.2, 0.3, 0.4]),  # two 1-2-5 steps: every digit (0.09 crowds 0.1)
        (0.7, 1.1, [0.7, 0.8, 0.9, 1.0]),  # every digit, far enough apart on a short view
        (1.5, 12.0, [2.0, 5.0, 10.0]),  # no decade but one, three 1-2-5 steps
        (0.15, 0.45, [0.2, 0.3, 0.4]),  # one 1-2-5 step: every digit
        (0.31, 0.33, [0.31, 0.32, 0.33]),  # no digit: even steps
    ],
)
def test_locator_prefers_decades(lo, hi, expected):
    ticks = ReadableLogLocator().tick_values(lo, hi)
    inside = [t for t in ticks if lo * (1 - 1e-9) <= t <= hi * (1 + 1e-9)]  # rounding aside
    assert inside == pytest.approx(expected)
