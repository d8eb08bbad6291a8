"""Figures of the chapter on the transformer block: its per-block profiles are drawn by
``gradflow.plots.style.plot_profiles``, in the colours of the two placements of the layer norm."""

from gradflow.plots.style import PALETTE

# the layer norm before the sub-layer (GPT-2's pre-LN) and after the addition (the original post-LN)
NORM_COLORS = {"pre-LN": PALETTE["green"], "post-LN": PALETTE["orange"]}
