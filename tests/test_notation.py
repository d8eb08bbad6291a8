"""One notation (issue 23): the loss is $\\mathcal{L}$ everywhere, never $L$, which the book keeps for
depth (layers or blocks). Read from the lessons' and pages' source and from the axis labels of every
figure function of gradflow.plots (drawn on the synthetic data of test_plots_ticks)."""

import re
from pathlib import Path

import pytest

from test_plots_ticks import FIGURES

ROOT = Path(__file__).resolve().parents[1]
PAGES = sorted((ROOT / "lessons").glob("*.md")) + sorted((ROOT / "docs").glob("*.md"))

# the loss written as a plain L: a derivative of L, or L applied to weights
LOSS_AS_L = re.compile(r"\\partial\s*L\b|∂\s*L\b|\bdL\s*/\s*d|(?<![\\\w])L\(\\theta")


@pytest.mark.parametrize(
    "text, found",
    [
        (r"$\partial L / \partial W$", True),
        (r"$L(\theta^* + a\delta)$", True),
        ("‖∂L/∂W₁‖", True),
        ("mean |dL/dW|", True),
        (r"$\partial \mathcal{L} / \partial W$", False),
        (r"$\mathcal{L}(\theta^*)$", False),
        ("mean |∂ℒ/∂W|", False),
        (r"$L$ blocks, $1/\sqrt{2L}$", False),  # depth stays L
    ],
)
def test_the_pattern_finds_the_loss_written_as_l(text, found):
    assert bool(LOSS_AS_L.search(text)) is found


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_no_page_writes_the_loss_as_l(page):
    hits = [
        f"{page.name}:{n}: {line.strip()}"
        for n, line in enumerate(page.read_text(encoding="utf-8").splitlines(), 1)
        if LOSS_AS_L.search(line)
    ]
    assert not hits, "the loss is $\\mathcal{L}$, not $L$:\n" + "\n".join(hits)


@pytest.mark.parametrize("name", FIGURES)
def test_no_axis_label_writes_the_loss_as_l(name):
    fig = FIGURES[name]()
    labels = [
        text
        for ax in fig.axes
        for text in (ax.get_xlabel(), ax.get_ylabel(), ax.get_title())
        if LOSS_AS_L.search(text)
    ]
    assert not labels, f"{name}: {labels}"
