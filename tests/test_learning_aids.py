"""Protects the learning aids around the lessons' code: the depth experiment of the shortcut chapter
(gradients derived by hand for a two-layer network, the qualitative result that shortcuts keep the
first layer's gradient; its interactive figure is tested in tests/test_explorer.py), ``glue``
without MyST-NB, names in code cells that link to their API entries (also after a build that
writes a page without reading it), and each chapter's download:
an executed notebook with outputs and its MyST source (the notebook running top to bottom in a
fresh kernel that cannot import MyST-NB is tests/test_notebook_runs.py). The browser's side of the download menu is in
tests/test_browser.py."""

import ast
import importlib
import json
import sys

import pytest
import torch
from bs4 import BeautifulSoup

from conftest import ROOT
from gradflow.display import glue
from gradflow.experiments.shortcut_connections import depth_profiles
from gradflow.init import seeded
from gradflow.mlp import ShortcutMLP

LESSONS = sorted(p.stem for p in (ROOT / "lessons").glob("*.md"))


# -- glue without MyST-NB --------------------------------------------------------------------------
def test_glue_without_myst_nb_shows_the_value(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "myst_nb", None)  # `import myst_nb` now raises ImportError
    with pytest.raises(ImportError):
        import myst_nb  # noqa: F401
    monkeypatch.setitem(sys.modules, "IPython.display", None)  # plain Python: printed
    glue("ratio", 0.25)
    assert capsys.readouterr().out.strip() == "ratio = 0.25"
    glue("hidden", 1.5, display=False)  # what the lessons' hidden cells do: nothing at all
    assert capsys.readouterr().out == ""


def test_glue_without_myst_nb_displays_in_ipython(monkeypatch):
    shown = []
    monkeypatch.setitem(sys.modules, "myst_nb", None)
    monkeypatch.setattr("IPython.display.display", lambda *values: shown.extend(values))
    glue("ratio", 0.25)
    assert shown == [0.25]


@pytest.mark.parametrize("name", ["", None, 3])
def test_glue_rejects_a_bad_name(name, monkeypatch):
    monkeypatch.setitem(sys.modules, "myst_nb", None)
    with pytest.raises(TypeError, match="name"):
        glue(name, 1.0)


# -- the depth experiment --------------------------------------------------------------------------
def mean_abs(t: torch.Tensor) -> float:
    return t.abs().mean().item()


@pytest.mark.parametrize("shortcut", [False, True])
def test_two_layer_profile_matches_gradients_derived_by_hand(shortcut):
    """Depth 2 with tanh: y = W2 h1 + b2 with h1 = tanh(W1 x + b1) (+ x with the shortcut), loss
    y^2, so dL/dW2 = 2y h1^T and dL/dW1 = ((W2^T 2y) * (1 - tanh(a1)^2)) x^T."""
    with seeded(123):  # the experiment's seed: the same weights
        model = ShortcutMLP(
            [3, 3, 1], use_shortcut=shortcut, activation="tanh", last_activation=False
        )
    w1, b1 = model.layers[0][0].weight.detach(), model.layers[0][0].bias.detach()
    w2, b2 = model.layers[1][0].weight.detach(), model.layers[1][0].bias.detach()
    x = torch.tensor([1.0, 0.0, -1.0])
    a1 = w1 @ x + b1
    h1 = torch.tanh(a1) + (x if shortcut else 0)
    y = w2 @ h1 + b2  # (1,)
    dw2 = torch.outer(2 * y, h1)
    dw1 = torch.outer((w2.T @ (2 * y)) * (1 - torch.tanh(a1) ** 2), x)
    measured = depth_profiles(depths=[2], activations=["tanh"])["tanh"][2]
    key = "residual" if shortcut else "plain"
    assert measured[key] == pytest.approx([mean_abs(dw1), mean_abs(dw2)], rel=1e-5)


@pytest.fixture(scope="module")
def profiles():
    return depth_profiles()


def test_profiles_have_one_value_per_layer(profiles):
    assert list(profiles) == ["gelu", "sigmoid", "tanh"]
    for by_depth in profiles.values():
        assert sorted(by_depth) == list(range(2, 31))
        for depth, pair in by_depth.items():
            assert len(pair["plain"]) == len(pair["residual"]) == depth


def test_profiles_are_deterministic(profiles):
    assert depth_profiles(depths=[7, 12]) == {
        name: {d: profiles[name][d] for d in (7, 12)} for name in profiles
    }


def test_shortcuts_keep_the_first_layers_gradient(profiles):
    """The chapter's qualitative result (and He et al. 2016's): from depth 10 on the first layer
    receives more gradient with shortcuts than without, whatever the activation."""
    for name, by_depth in profiles.items():
        for depth in range(10, 31):
            pair = by_depth[depth]
            assert pair["residual"][0] > pair["plain"][0], (name, depth)


@pytest.mark.parametrize(
    "kwargs, error",
    [
        ({"depths": []}, ValueError),
        ({"depths": [1]}, ValueError),
        ({"depths": [2.5]}, TypeError),
        ({"activations": "gelu"}, ValueError),
        ({"activations": ["swish"]}, ValueError),
        ({"seed": 1.5}, TypeError),
    ],
)
def test_experiment_rejects_bad_input(kwargs, error):
    with pytest.raises(error):
        depth_profiles(**kwargs)


# -- the built site: code linked to the API reference ----------------------------------------------
def gradflow_imports(lesson: str) -> dict[str, str]:
    """Every name the shown code cells of a lesson import from gradflow, with its module, read from
    the lesson's source (not from the page): {"ShortcutMLP": "gradflow.mlp", ...}."""
    text = (ROOT / "lessons" / f"{lesson}.md").read_text(encoding="utf-8")
    names = {}
    for block in text.split("```{code-cell} ipython3")[1:]:
        code = block.split("\n```", 1)[0]
        if "remove-cell" in code or "remove-input" in code:  # not on the page
            continue
        code = "\n".join(line for line in code.splitlines() if not line.startswith(":"))
        code = code.split("---\n", 2)[-1] if code.lstrip().startswith("---") else code
        for node in ast.walk(ast.parse(code)):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("gradflow"):
                names |= {alias.name: node.module for alias in node.names}
    return names


def test_link_cache_keeps_markdown_pages(tmp_path):
    """sphinx-codeautolink's own cache drops a page whose source is not .rst when it reads its
    cache back; bookbuild.autolink's keeps it, so a page written without being read keeps its links."""
    from sphinx_codeautolink.extension.cache import DataCache

    from bookbuild.autolink import AnySuffixDataCache

    (tmp_path / "lessons").mkdir()
    (tmp_path / "lessons" / "chapter.md").write_text("# A chapter\n")
    transform = {
        "source": "x = f()",
        "names": [],
        "example": {"document": "lessons/chapter", "ref_id": "id0", "headings": []},
        "doc_lineno": 3,
    }
    cache = {"lessons/chapter": [transform], "lessons/gone": [transform]}
    (tmp_path / DataCache.cache_filename).write_text(json.dumps(cache))
    upstream, ours = DataCache(tmp_path, tmp_path), AnySuffixDataCache(tmp_path, tmp_path)
    upstream.read()
    ours.read()
    assert upstream.transforms == {}, "sphinx-codeautolink reads .md pages back now: drop the shim"
    assert list(ours.transforms) == ["lessons/chapter"]


@pytest.mark.site
def test_gradflow_names_in_code_cells_link_to_the_api(site):
    page = BeautifulSoup(
        (site / "lessons" / "shortcut_connections.html").read_text(encoding="utf-8"), "html.parser"
    )
    links = {a.get_text(): a["href"] for a in page.select("div.cell_input a") if a.get("href")}
    # the functions and classes: the API reference documents them (constants such as PLAIN it does not)
    expected = {
        name: module
        for name, module in gradflow_imports("shortcut_connections").items()
        if callable(getattr(importlib.import_module(module), name))
    }
    assert {"ShortcutMLP", "gradient_profile", "glue", "depth_explorer"} <= set(expected)
    for name, module in expected.items():
        assert links.get(name) == f"../docs/api.html#{module}.{name}", (name, links.get(name))
    # torch's names have no entry (no intersphinx): plain text, no dead link
    assert "torch" not in links and "manual_seed" not in links
    # the links' style is in book.css: no stylesheet of the extension's own delays the page
    assert not page.select("link[href*=codeautolink]")


# -- the built site: each chapter for download -----------------------------------------------------
def download_links(site, lesson: str) -> dict[str, str]:
    page = BeautifulSoup(
        (site / "lessons" / f"{lesson}.html").read_text(encoding="utf-8"), "html.parser"
    )
    menu = page.select_one(".dropdown-download-buttons")
    assert menu is not None, f"{lesson}.html has no download menu"
    return {
        a.get_text(strip=True).split("(")[-1].rstrip(")"): a["href"] for a in menu.select("a[href]")
    }


@pytest.mark.site
@pytest.mark.parametrize("lesson", LESSONS)
def test_chapter_offers_its_executed_notebook_and_source(site, lesson):
    import nbformat

    links = download_links(site, lesson)
    notebook = (site / "lessons" / links[".ipynb"]).resolve()
    assert notebook == site / "lessons" / f"{lesson}.ipynb" and notebook.is_file()
    nb = nbformat.read(notebook, as_version=4)
    nbformat.validate(nb)
    install, *code = [c for c in nb.cells if c.cell_type == "code"]  # then the lesson's cells
    assert install.metadata["tags"] == ["install"] and not install.outputs
    assert code and all(c.execution_count for c in code), "the notebook was not executed"
    kinds = {k for c in code for out in c.outputs for k in out.get("data", {})}
    assert kinds & {"text/html", "image/png"}, f"{lesson}.ipynb holds no table or figure"
    source = (site / "lessons" / links[".md"]).resolve()
    assert source.read_bytes() == (ROOT / "lessons" / f"{lesson}.md").read_bytes()


@pytest.mark.site
def test_other_pages_offer_no_download(site):
    page = (site / "docs" / "index.html").read_text(encoding="utf-8")
    assert "dropdown-download-buttons" not in page
