"""Protects the ledger of reproduced results: every row of the built ledger shows values pasted from the
chapters of the same build (no unresolved or missing glue), and every row's value meets the rule the
ledger states, checked against the published value written here from the source, not from our code.

The values are read from the glue data MyST-NB writes while it executes each lesson
(``<build>/../jupyter_execute/lessons/<lesson>.glue.json``): the same numbers the ledger pastes."""

import ast
import json
import math

import pytest
from bs4 import BeautifulSoup

from gradflow.published import (
    GPT2_SMALL_BLOCK_ATTN,
    GPT2_SMALL_BLOCK_FF,
    GPT2_SMALL_PARAMETERS_TIED,
    RASCHKA_CH4_GRADIENTS,
)

pytestmark = pytest.mark.site

# Published values, from the sources the ledger cites.
RASCHKA_FIRST_LAYER = {k: v[0] for k, v in RASCHKA_CH4_GRADIENTS.items()}  # Raschka (2024), ch. 4
RASCHKA_PARAMS = {  # ch. 4, with weight tying
    "ff": GPT2_SMALL_BLOCK_FF,
    "attn": GPT2_SMALL_BLOCK_ATTN,
    "model": GPT2_SMALL_PARAMETERS_TIED,
}
XIONG_PRE_LN_BOUND = 1 / math.sqrt(24 / 6)  # gradient ∝ 1/sqrt(L): 6 -> 24 blocks halves it
VEIT_RESNET110 = {"blocks": 54, "longest_effective_path": 17}  # effective paths of length 5 to 17
CHANCE = 0.10  # ten digit classes


@pytest.fixture(scope="module")
def glued(site):
    """The glued values of every lesson of the build, by lesson name and key."""
    folder = site.parent / "jupyter_execute" / "lessons"
    values = {}
    for path in folder.glob("*.glue.json"):
        data = json.loads(path.read_text(encoding="utf-8"))
        lesson = path.name.removesuffix(".glue.json")
        values[lesson] = {}
        for key, output in data.items():
            text = output["data"].get("text/plain", "")
            try:
                values[lesson][key] = ast.literal_eval(text)
            except (ValueError, SyntaxError):
                values[lesson][key] = text
    assert values, f"no glue data found in {folder}"
    return values


@pytest.fixture(scope="module")
def rows(site):
    page = BeautifulSoup((site / "docs" / "ledger.html").read_text(encoding="utf-8"), "html.parser")
    tables = page.find_all("table")
    assert len(tables) == 1, "the ledger page should hold exactly one table"
    header = [th.get_text(strip=True) for th in tables[0].select("thead th")]
    body = [[td for td in tr.find_all("td")] for tr in tables[0].select("tbody tr")]
    return header, body


def test_every_row_shows_pasted_values_and_links_to_its_section(rows):
    header, body = rows
    ours, where = header.index("ours"), header.index("measured in")
    assert len(body) == len(RULES), "every row of the ledger needs a rule in this test, and back"
    for i, row in enumerate(body, start=1):
        assert row[0].get_text(strip=True) == str(i)
        pasted = row[ours].select("span.pasted-text")
        assert pasted and all(p.get_text(strip=True) for p in pasted), f"row {i}: no glued value"
        assert "{glue" not in row[ours].get_text(), f"row {i}: unresolved glue"
        assert row[where].find("a", href=True), f"row {i}: no link to the section measuring it"
        assert row[1].find("a", href=True), f"row {i}: the source is not a bibliography link"


def _raschka_gradients(g):
    sc = g["shortcut_connections"]
    assert sc["sc_first_plain"] == pytest.approx(RASCHKA_FIRST_LAYER["without"], rel=1e-4)
    assert sc["sc_first_residual"] == pytest.approx(RASCHKA_FIRST_LAYER["with"], rel=1e-4)
    assert sc["sc_book_deviation"] <= 1e-4


def _raschka_params(g):
    tf = g["transformer_block"]
    assert {k: tf[f"tf_params_{k}"] for k in RASCHKA_PARAMS} == RASCHKA_PARAMS


def _he_init(g):
    tr = g["shortcuts_in_training"]
    assert tr["tr_ph_grad_max"] / tr["tr_ph_grad_min"] < 100  # PyTorch's default: over 1e6


def _degradation(g):
    tr = g["shortcuts_in_training"]
    assert tr["tr_p_ratio"] > 2  # the deeper plain network ends at a clearly higher loss
    assert tr["tr_r_ratio"] < 1.5  # the deeper residual network does not degrade


def _identity(g):
    wr = g["why_residuals_work"]
    assert wr["wr_id_plain_over_res"] > 2
    assert wr["wr_id_plain_end"] > 0.15  # the plain network does not approximate the identity


def _landscapes(g):
    tr = g["shortcuts_in_training"]
    assert tr["tr_rise_ratio_1"] > 100  # the plain network's cliffs
    assert tr["tr_s1_over_scaled"] < 1  # the branch factor is not what flattens the residual one


def _xiong(g):
    tf = g["transformer_block"]
    assert tf["tf_post_over_pre_xavier_24"] > 1.2
    assert (
        XIONG_PRE_LN_BOUND / 1.43 < tf["tf_pre_last_24_over_6_xavier"] < XIONG_PRE_LN_BOUND * 1.43
    )


def _veit_paths(g):
    wr = g["why_residuals_work"]
    ratio = VEIT_RESNET110["longest_effective_path"] / VEIT_RESNET110["blocks"]  # about a third
    assert wr["wr_peak_32"] <= round(ratio * 32)
    assert wr["wr_s1_peak_16"] <= round(ratio * 16)
    assert wr["wr_share_quarter_32"] > 0.5 and wr["wr_s1_share_quarter_16"] > 0.5


def _veit_lesion(g):
    wr = g["why_residuals_work"]
    assert wr["wr_lesion_res_drop"] < 2  # percentage points, median of the seeds
    assert wr["wr_lesion_s1_mean_single_drop"] < 4
    assert wr["wr_lesion_plain_mean_single"] < 100 * 2 * CHANCE


def _balduzzi(g):
    wr = g["why_residuals_work"]
    assert wr["wr_line_plain_64"] < 0.75 * wr["wr_line_plain_2"]  # the plain network decorrelates
    assert wr["wr_line_res_64"] > 0.9 * wr["wr_line_res_2"]  # the residual one does not
    assert wr["wr_line_res_64"] - wr["wr_line_plain_64"] > 0.15


def _rezero(g):
    wr = g["why_residuals_work"]
    assert wr["wr_init_scaled_over_gate"] > 5
    assert wr["wr_init_small_over_gate"] > 5  # the same start without a learnable gate


def _warmup(g):
    tt = g["training_transformers"]  # medians of three seeds, final loss over ln 3
    assert tt["tt_warm_post_without_ratio"] > 0.9  # post-LN learns nothing at the middle rate
    assert tt["tt_warm_pre_without_ratio"] < 0.8  # pre-LN does, without warm-up
    assert tt["tt_warm_post_without_low_ratio"] < 0.6  # post-LN's window: the smallest rate


def _rank_collapse(g):
    tt = g["training_transformers"]
    assert tt["tt_similarity_without_init"] > 0.99 and tt["tt_similarity_without"] > 0.99
    assert tt["tt_similarity_with"] < 0.5
    assert tt["tt_8_without_loss"] == pytest.approx(math.log(3), rel=0.02)  # three digits: guessing


def _gpt2_scaling(g):
    tt = g["training_transformers"]
    assert tt["tt_stream_48_scaled_total"] < 1.5
    assert tt["tt_stream_48_unscaled_total"] > 2
    assert tt["tt_stream_48_fit_dev"] < 10  # per cent: independent additions


RULES = {
    1: _raschka_gradients,
    2: _raschka_params,
    3: _he_init,
    4: _degradation,
    5: _identity,
    6: _landscapes,
    7: _xiong,
    8: _veit_paths,
    9: _veit_lesion,
    10: _balduzzi,
    11: _rezero,
    12: _warmup,
    13: _rank_collapse,
    14: _gpt2_scaling,
}


@pytest.mark.parametrize("row", sorted(RULES))
def test_row_meets_its_rule(glued, row):
    RULES[row](glued)
