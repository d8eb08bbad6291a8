"""Protects the shared helpers: the digits split (deterministic, disjoint, standardised on the training
set), the training loop (repeatable for a seed, and it learns), and the HTML tables and figures."""

import pytest
import torch
from sklearn.datasets import load_digits as sklearn_digits

from gradflow.data import load_digits
from gradflow.diagrams import network_diagram
from gradflow.display import Table
from gradflow.mlp import ShortcutMLP
from gradflow.plots.shortcut_connections import grouped_bars
from gradflow.train import fit_regression, train_classifier


def test_split_is_deterministic_and_seed_dependent():
    a, b, c = load_digits(seed=0), load_digits(seed=0), load_digits(seed=1)
    assert torch.equal(a.x_train, b.x_train) and torch.equal(a.y_test, b.y_test)
    assert not torch.equal(a.y_train, c.y_train)


def test_split_partitions_the_data_set():
    d = load_digits(test_fraction=0.25)
    n = len(sklearn_digits().target)  # 1,797 digits ship with scikit-learn
    assert d.x_train.shape[0] + d.x_test.shape[0] == n
    assert d.x_test.shape[0] == round(0.25 * n)
    assert d.x_train.shape[1] == d.x_test.shape[1] == 64
    assert d.x_train.dtype == torch.float32 and d.y_train.dtype == torch.int64
    # every digit appears in both halves, and the class counts add up to scikit-learn's
    counts = torch.bincount(d.y_train, minlength=10) + torch.bincount(d.y_test, minlength=10)
    assert counts.tolist() == torch.bincount(torch.as_tensor(sklearn_digits().target)).tolist()


def test_standardised_with_training_statistics():
    d = load_digits()
    varying = d.x_train.std(0) > 0  # border pixels that are always 0 stay 0
    torch.testing.assert_close(d.x_train.mean(0), torch.zeros(64), atol=1e-4, rtol=0)
    torch.testing.assert_close(
        d.x_train.std(0, correction=0)[varying], torch.ones(int(varying.sum())), atol=1e-3, rtol=0
    )


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"test_fraction": 0.0}, ValueError, "strictly between 0 and 1"),
        ({"test_fraction": 1.5}, ValueError, "strictly between 0 and 1"),
        ({"test_fraction": "a"}, TypeError, "test_fraction must be a float"),
        ({"seed": 1.5}, TypeError, "seed must be an int"),
    ],
)
def test_bad_split_arguments(kwargs, error, message):
    with pytest.raises(error, match=message):
        load_digits(**kwargs)


def _run(seed: int):
    torch.manual_seed(seed)
    model = ShortcutMLP([64, 32, 10], activation="relu", last_activation=False)
    return train_classifier(model, load_digits(), steps=60, lr=0.1, seed=seed, record_every=20)


def test_training_is_deterministic_and_learns():
    first, again = _run(0), _run(0)
    assert first.train_loss == again.train_loss and first.test_accuracy == again.test_accuracy
    assert first.steps == [0, 20, 40, 60]
    assert first.train_loss[-1] < 0.5 * first.train_loss[0]
    assert first.test_accuracy[-1] > 0.8  # ten classes: chance is 0.1
    assert len(first.relative_update) == 3 and len(first.relative_update[0]) == 2


def test_training_rejects_bad_arguments():
    model, data = ShortcutMLP([64, 10], last_activation=False), load_digits()
    with pytest.raises(ValueError, match="unknown optimizer 'lbfgs'"):
        train_classifier(model, data, optimizer="lbfgs")
    with pytest.raises(ValueError, match="steps must be >= 1"):
        train_classifier(model, data, steps=0)
    with pytest.raises(ValueError, match="lr must be a positive number"):
        train_classifier(model, data, lr=-1.0)
    with pytest.raises(ValueError, match="lr must be a positive number"):
        train_classifier(model, data, lr=float("nan"))
    with pytest.raises(TypeError, match="lr must be a number, got str"):
        train_classifier(model, data, lr="0.1")
    with pytest.raises(TypeError, match="data must be a gradflow.data.Digits"):
        train_classifier(model, (data.x_train, data.y_train))
    with pytest.raises(TypeError, match="seed must be an int"):
        train_classifier(model, data, seed=1.5)


def test_fit_regression_solves_a_linear_map_and_rejects_bad_input():
    # a linear model fitted to y = 2x, from zero weights: the relative error falls from 1 to 0
    x = torch.linspace(-1, 1, 64).unsqueeze(1)  # (64, 1)
    model = torch.nn.Linear(1, 1)
    torch.nn.init.zeros_(model.weight)
    torch.nn.init.zeros_(model.bias)
    steps, errors = fit_regression(model, x, 2 * x, steps=300, lr=0.05, seed=0, record_every=100)
    assert steps == [0, 100, 200, 300]
    # a zero model's error is mean(y^2) / var(y) = (n - 1) / n
    assert errors[0] == pytest.approx(1.0, rel=0.02)
    assert errors[-1] < 1e-3
    with pytest.raises(ValueError, match="must match"):
        fit_regression(model, x, x[:10])
    with pytest.raises(ValueError, match="steps must be >= 1"):
        fit_regression(model, x, x, steps=0)


def test_table_renders_html_and_checks_shape():
    html = Table(
        ["a", "b"], [[1, 0.123456], ["<x>", 2.0]], caption="c", formats=[None, ".3g"]
    )._repr_html_()
    assert html.startswith('<table class="gradflow-table dataframe"><caption>c</caption>')
    assert "<td>0.123</td>" in html and "<td>&lt;x&gt;</td>" in html
    with pytest.raises(ValueError, match="row 0 has 1 cells but the table has 2 columns"):
        Table(["a", "b"], [[1]])


def test_table_offers_a_numbered_myst_table():
    markdown = Table(["a", "b"], [[1, 2.5]], caption="Loss (mean of 3)")._repr_markdown_()
    lines = markdown.splitlines()
    assert lines[:3] == [
        "```{table} Loss \\(mean of 3\\)",
        ":name: tab-loss-mean-of-3",
        ":class: gradflow-table",
    ]
    assert lines[-2:] == ["| 1 | 2\\.5 |", "```"]
    assert ":name: tab-mine" in Table(["a"], [[1]], caption="x", name="tab-mine")._repr_markdown_()
    assert ":name:" not in Table(["a"], [[1]])._repr_markdown_()  # no caption: not numbered
    with pytest.raises(ValueError, match="caption"):
        Table(["a"], [[1]], name="tab-x")
    with pytest.raises(ValueError, match="label"):
        Table(["a"], [[1]], caption="x", name="has space")


def test_figures_are_drawn_and_validate_input():
    fig = grouped_bars(["l0", "l1"], {"x": [1.0, 2.0], "y": [0.1, 0.2]})
    assert len(fig.axes) == 1 and fig.axes[0].get_yscale() == "log"
    with pytest.raises(ValueError, match="every series needs 2 values"):
        grouped_bars(["l0", "l1"], {"x": [1.0]})
    assert len(network_diagram([3, 3, 1]).axes) == 2
    with pytest.raises(TypeError, match="list of positive ints"):
        network_diagram("3-3-1")
