"""Protects the training of small GPTs (gradflow.train.train_sequence_model, the chapter's
experiments and gradflow.gradients.stream_rms): runs repeat exactly for a seed, a model without its
shortcuts runs and trains, GPT-2's output-projection scaling gives the stated standard deviations,
gradient norms agree with PyTorch's own, the stream's RMS and its fits, the reference losses and the
logit spread, the positions' mean cosine block by block (convergence) and the plane its figure
draws them in are right in hand-derived cases, the step-by-step runs are the runs they stand for, and
bad input is refused with a message naming it. The chapter's training explorer draws every run it is
given (its paths read back through its axes) and its median, says each state in a caption checked
by hand, is accessible and light, and refuses a grid it cannot draw."""

import gzip
import math
import statistics
from dataclasses import replace

import numpy as np
import pytest
import torch
from bs4 import BeautifulSoup

from gradflow.experiments import training_transformers as tt
from gradflow.gpt import GPTConfig, GPTModel, LayerNorm, out_projections
from gradflow.gradients import (
    block_weight_grad_norms,
    logit_spread,
    stream_rms,
    token_similarity,
    weight_matrices,
)
from gradflow.plots.training_transformers import plane, plot_convergence, training_explorer
from gradflow.tasks import SortTask
from gradflow.train import History, train_sequence_model, warmup_factor
from svg_paths import points, top_of

TASK = SortTask(length=4, n_digits=3)
TINY = tt.Budget(emb_dim=16, n_heads=2, steps=30, batch_size=16, lr=3e-3, record_every=10)


def tiny_model(use_shortcut=True, n_layers=2, seed=0):
    cfg = GPTConfig(vocab_size=3, context_length=TASK.context_length, emb_dim=16, n_heads=2,
                    n_layers=n_layers, drop_rate=0.0)  # fmt: skip
    torch.manual_seed(seed)
    return GPTModel(cfg, use_shortcut=use_shortcut, init="gpt2")


def run(model, seed=0, steps=30, **kwargs):
    train, test = TASK.split(seed=0)
    return train_sequence_model(model, TASK, train, test, steps=steps, seed=seed, lr=3e-3,
                                batch_size=16, record_every=10, **kwargs)  # fmt: skip


def test_training_repeats_exactly_for_a_seed():
    first, second = run(tiny_model()), run(tiny_model())
    assert first == second  # every recorded loss, accuracy and gradient norm
    assert run(tiny_model(), seed=1).train_loss != first.train_loss


@pytest.mark.parametrize("use_shortcut", [True, False])
def test_a_shallow_model_trains_with_and_without_shortcuts(use_shortcut):
    history = run(tiny_model(use_shortcut=use_shortcut, n_layers=1), steps=60)
    assert history.steps == [0, 10, 20, 30, 40, 50, 60]
    assert history.train_loss[-1] < 0.8 * history.train_loss[0]
    assert len(history.block_grad_norms) == 6 and len(history.block_grad_norms[0]) == 1
    assert len(history.test_accuracy) == 1 and 0 <= history.test_accuracy[0] <= 1


def test_untrained_loss_is_near_guessing():
    # GPT-2's small initial weights give almost uniform predictions: a loss near ln(3) per digit
    history = run(tiny_model(), steps=1)
    assert history.train_loss[0] == pytest.approx(math.log(3), rel=0.05)


def test_warmup_rises_linearly_to_one():
    assert [warmup_factor(s, 4) for s in range(6)] == [0.25, 0.5, 0.75, 1.0, 1.0, 1.0]
    assert warmup_factor(0, 0) == 1.0


def test_warmup_sets_the_optimizers_learning_rate(monkeypatch):
    seen = []
    original = torch.optim.AdamW.step

    def spy(self, *args, **kwargs):
        seen.append(self.param_groups[0]["lr"])
        return original(self, *args, **kwargs)

    monkeypatch.setattr(torch.optim.AdamW, "step", spy)
    run(tiny_model(), steps=5, warmup=4)
    assert seen == pytest.approx([3e-3 * f for f in (0.25, 0.5, 0.75, 1.0, 1.0)])


def test_block_grad_norms_agree_with_pytorch():
    model = tiny_model()
    inputs, targets = TASK.examples(TASK.split(seed=0)[0][:8])
    torch.nn.functional.cross_entropy(model(inputs).flatten(0, 1), targets.flatten()).backward()
    expected = [torch.nn.utils.get_total_norm([p.grad for _, p in weight_matrices(b)]).item()
                for b in model.blocks]  # fmt: skip
    assert block_weight_grad_norms(model) == pytest.approx(expected, rel=1e-5)
    with pytest.raises(ValueError, match="backward"):
        block_weight_grad_norms(tiny_model())


def test_output_projection_scaling_has_the_stated_std():
    budget = tt.Budget(emb_dim=256, n_heads=4)
    L = 3
    scaled = tt.build(L, budget=budget, seed=0)
    unscaled = tt.build(L, budget=budget, seed=0, scaled=False)
    for model, std in ((scaled, 0.02 / math.sqrt(2 * L)), (unscaled, 0.02)):
        for proj in out_projections(model):  # 256 x 256 and 256 x 1024: large enough for 5 %
            assert proj.weight.std().item() == pytest.approx(std, rel=0.05)
    # everything else is GPT-2's N(0, 0.02) in both
    assert scaled.blocks[0].attn.query.weight.std().item() == pytest.approx(0.02, rel=0.05)


def test_stream_rms_in_hand_derived_cases():
    model = tiny_model(n_layers=3)
    tokens = TASK.examples(TASK.split(seed=0)[0][:4])[0]
    T = tokens.shape[1]
    embedded = model.tok_emb(tokens) + model.pos_emb(torch.arange(T))
    with torch.no_grad():
        for proj in out_projections(model):  # every branch now adds exactly zero
            proj.weight.zero_()
            proj.bias.zero_()
    rms = stream_rms(model, tokens)
    assert len(rms) == 4
    assert rms == pytest.approx([embedded.pow(2).mean().sqrt().item()] * 4, rel=1e-6)


def test_growth_and_final_loss_by_hand():
    assert tt.growth_per_block([1.0, 2.0, 4.0]) == pytest.approx(2.0)
    history = run(tiny_model(), steps=30)
    assert tt.final_loss(history) == pytest.approx(sum(history.train_loss[-3:]) / 3)


def test_chapter_train_uses_the_budget():
    trained = tt.train(1, use_shortcut=False, steps=20, budget=TINY)
    assert trained.history.steps == [0, 10, 20]
    assert trained.model.cfg.emb_dim == 16 and not trained.model.blocks[0].use_shortcut


def test_bad_input_is_refused():
    model = tiny_model()
    train, test = TASK.split(seed=0)
    with pytest.raises(ValueError, match="warmup"):
        train_sequence_model(model, TASK, train, test, warmup=-1)
    with pytest.raises(ValueError, match="lr"):
        train_sequence_model(model, TASK, train, test, lr=0.0)
    with pytest.raises(ValueError, match="steps"):
        train_sequence_model(model, TASK, train, test, steps=0)
    with pytest.raises(ValueError, match="n_layers"):
        tt.build(0)
    with pytest.raises(ValueError, match="norm placement"):
        tt.build(2, norm="middle")
    with pytest.raises(ValueError, match="steps"):
        tt.Budget(steps=0)
    with pytest.raises(ValueError, match="seeds"):
        tt.shortcut_grid(seeds=())


def test_head_is_what_a_shorter_run_records():
    # the first steps of a run do not depend on how many follow: cutting a 30-step run to 20 steps
    # gives what a 20-step run records, apart from the test accuracy measured after the last step
    long = tt.train(1, steps=30, budget=TINY).history
    short = tt.train(1, steps=20, budget=TINY).history
    cut = tt.head(long, 20)
    assert cut.steps == short.steps and cut.train_loss == short.train_loss
    assert cut.block_grad_norms == short.block_grad_norms and cut.test_accuracy == []
    with pytest.raises(ValueError, match="no record"):
        tt.head(long, 25)


def test_first_steps_reuses_longer_runs():
    runs = [tt.train(1, seed=s, steps=30, budget=TINY) for s in (0, 1)]
    reused = tt.first_steps(1, steps=20, seeds=(0, 1), budget=TINY, scaled_runs=runs)
    fresh = tt.first_steps(1, steps=20, seeds=(0, 1), budget=TINY)
    assert [h.train_loss for h in reused[True]] == [h.train_loss for h in fresh[True]]
    assert [h.train_loss for h in reused[False]] == [h.train_loss for h in fresh[False]]
    with pytest.raises(ValueError, match="scaled runs"):
        tt.first_steps(1, steps=20, seeds=(0,), budget=TINY, scaled_runs=runs)


def test_warmup_study_runs_the_given_steps():
    study = tt.warmup_study(1, lr=1e-2, warmup=5, seeds=(0, 1), steps=10, budget=TINY)
    assert sorted(study) == [("post", 0), ("post", 5), ("pre", 0), ("pre", 5)]
    assert all(len(runs) == 2 and runs[0].history.steps == [0, 10] for runs in study.values())


def test_reference_losses_by_hand():
    # two digits, two of them: problems 00, 01, 10, 11 with answers 00, 01, 01, 11
    losses = tt.reference_losses(SortTask(length=2, n_digits=2))
    h = -(0.25 * math.log(0.25) + 0.75 * math.log(0.75))  # each position: one digit in four differs
    assert losses["constant"] == pytest.approx(math.log(2))  # four 0s and four 1s among the answers
    assert losses["problem"] == pytest.approx(
        math.log(2) / 2
    )  # 01 and 10 hold two digits, 00 and 11 one
    assert losses["position"] == pytest.approx(h)


class FixedLogits(torch.nn.Module):
    """A stand-in model whose output is given."""

    def __init__(self, logits):
        super().__init__()
        self.logits = logits

    def forward(self, tokens):
        return self.logits


def test_logit_spread_by_hand():
    logits = torch.tensor([[[5.0, 0.0], [0.0, 1.0]], [[5.0, 0.0], [2.0, 3.0]]])  # (B=2, T=2, V=2)
    # across the two inputs: position 0 does not vary; at position 1 both logits differ by 2 (std 1)
    assert logit_spread(FixedLogits(logits), None) == pytest.approx(0.5)
    assert logit_spread(FixedLogits(logits), None, first=1) == pytest.approx(1.0)
    model = tiny_model()
    with torch.no_grad():
        model.out_head.weight.zero_()  # every input gets the same (zero) logits
    assert logit_spread(model, TASK.examples(TASK.split(seed=0)[0][:8])[0]) == 0.0


def test_step_by_step_is_the_runs_it_stands_for():
    # the model after s steps is a run of s steps; its gradient at step s that run's record
    runs = tt.step_by_step(1, steps=3, seeds=(0,), budget=TINY)
    assert len(runs[0].spread) == 4 and len(runs[0].first_grad) == 3
    inputs, _ = tt.TASK.examples(tt.problems()[0][:128])
    every_step = replace(TINY, record_every=1)
    for s in range(4):
        model = (
            tt.train(1, False, seed=0, steps=s, budget=every_step).model
            if s
            else tt.build(1, False, seed=0, budget=TINY)
        )
        assert runs[0].spread[s] == pytest.approx(logit_spread(model, inputs, first=5), rel=1e-6)
    history = tt.train(1, False, seed=0, steps=3, budget=every_step).history
    assert runs[0].first_grad == pytest.approx([n[0] for n in history.block_grad_norms], rel=1e-6)


def test_on_record_sees_the_model_at_every_record():
    seen = []
    train, test = TASK.split(seed=0)
    train_sequence_model(
        tiny_model(), TASK, train, test, steps=4, lr=3e-3, batch_size=16, record_every=2,
        on_record=lambda m: seen.append(m.blocks[0].attn.query.weight.sum().item()),
    )  # fmt: skip
    assert len(seen) == 3 and len(set(seen)) == 3  # steps 0, 2 and 4, each after other updates


def test_mean_square_fit_and_geometric_deviation_by_hand():
    rms = [0.1 * math.sqrt(1 + 0.5 * depth) for depth in range(5)]  # independent additions, c = 0.5
    assert tt.mean_square_fit(rms) == pytest.approx((0.5, 0.0), abs=1e-12)
    assert tt.geometric_deviation([1.0, 2.0, 4.0]) == pytest.approx(0.0)
    # 1, 2, 4: c = (3 * 1 + 15 * 2) / (1 + 4) = 6.6; worst at l = 1, 2 / sqrt(7.6)
    c, deviation = tt.mean_square_fit([1.0, 2.0, 4.0])
    assert c == pytest.approx(6.6) and deviation == pytest.approx(1 - 2 / math.sqrt(7.6))
    with pytest.raises(ValueError, match="at least one block"):
        tt.mean_square_fit([1.0])


def test_convergence_by_hand():
    """The embeddings' mean cosine from the embedding tables, pair by pair in float64; the last
    depth's as token_similarity measures it after the last block; the first problem's vectors."""
    c = tt.convergence(2, use_shortcut=False, seed=0, n=4)
    model = tt.build(2, False, seed=0)
    tokens, _ = tt.TASK.examples(tt.problems()[1][:4])
    T = tokens.shape[1]
    emb = (model.tok_emb.weight[tokens] + model.pos_emb.weight[:T]).detach().double().numpy()
    pairs = [
        e[i] @ e[j] / (np.linalg.norm(e[i]) * np.linalg.norm(e[j]))
        for e in emb
        for i in range(T)
        for j in range(T)
        if i != j
    ]
    assert len(c.similarity) == 3 and tuple(c.vectors.shape) == (3, T, 32)
    assert c.similarity[0] == pytest.approx(np.mean(pairs), rel=1e-5)
    assert c.similarity[-1] == pytest.approx(token_similarity(model, tokens), rel=1e-6)
    assert np.allclose(c.vectors[0].numpy(), emb[0], rtol=1e-5, atol=1e-7)
    with pytest.raises(ValueError, match="n"):
        tt.convergence(2, False, n=0)


def test_plane_by_hand():
    # copies of one direction: all on the unit circle at (1, 0)
    assert plane(np.tile([[0.0, 3.0, 4.0]], (4, 1))) == pytest.approx(np.tile([[1.0, 0.0]], (4, 1)))
    # three directions in one plane (lengths 1, 2, 5): seen at full length, their angles kept
    angles = np.array([0.3, -0.9, 1.4])
    vectors = np.stack([np.cos(angles), np.sin(angles), np.zeros(3)], axis=1) * [[1], [2], [5]]
    vectors = vectors @ np.linalg.qr(np.random.default_rng(0).normal(size=(3, 3)))[0]  # turned
    xy = plane(vectors)
    assert np.linalg.norm(xy, axis=1) == pytest.approx([1.0, 1.0, 1.0])
    assert xy @ xy.T == pytest.approx(np.cos(angles[:, None] - angles[None, :]))
    assert xy[:, 0].sum() >= 0 and xy[-1, 1] >= 0  # the signs the docstring gives


def test_plot_convergence_refuses_bad_input():
    vectors = {s: np.ones((3, 4, 5)) for s in (False, True)}
    similarity = {s: [0.1, 0.5, 0.9] for s in (False, True)}
    with pytest.raises(ValueError, match="without"):
        plot_convergence({True: vectors[True]}, similarity)
    with pytest.raises(ValueError, match="one similarity per depth"):
        plot_convergence(vectors, {s: [0.1] for s in (False, True)})
    with pytest.raises(ValueError, match="must lie in"):
        plot_convergence(vectors, similarity, shown=(0, 3))


def test_build_sets_every_layer_norms_epsilon():
    model = tt.build(2, budget=TINY, eps=1e-12)
    norms = [m for m in model.modules() if isinstance(m, LayerNorm)]
    assert len(norms) == 5 and all(m.eps == 1e-12 for m in norms)  # two per block and the final one
    assert all(
        m.eps == 1e-5 for m in tt.build(2, budget=TINY).modules() if isinstance(m, LayerNorm)
    )
    with pytest.raises(ValueError, match="eps"):
        tt.build(2, eps=0.0)


def test_warmup_window_sweeps_the_rates_without_the_scaling():
    window = tt.warmup_window(1, rates=(1e-2, 2e-2), warmup=5, steps=10, seeds=(0,), budget=TINY)
    assert sorted(window) == sorted((n, w, lr) for n in ("post", "pre") for w in (0, 5)
                                    for lr in (1e-2, 2e-2))  # fmt: skip
    alone = tt.train(
        1, True, "post", 0, 5, scaled=False, lr=2e-2, steps=10, budget=TINY, test=False
    )
    assert window["post", 5, 2e-2][0].history == alone.history  # no test accuracy in either
    assert alone.history.test_accuracy == []
    with pytest.raises(ValueError, match="rates"):
        tt.warmup_window(rates=())


# -- the training explorer (gradflow.plots.training_transformers.training_explorer) ----------------
def explorer_grid(losses: dict, steps=(0, 5, 10)) -> dict:
    """A grid of runs as shortcut_grid returns them, from each run's recorded losses alone."""
    return {
        key: [tt.Trained(None, History(steps=list(steps), train_loss=list(run))) for run in runs]
        for key, runs in losses.items()
    }


LN2 = math.log(2)
HAND = {  # two depths, seeds 3 and 5, losses in units of ln 2 (the loss of guessing one of 2 digits)
    (1, False): [[1.0, 0.6, 0.4], [1.0, 0.8, 0.6]],
    (1, True): [[1.0, 0.5, 0.2], [1.0, 0.7, 0.4]],
    (4, False): [[1.0, 1.0, 1.0], [1.0, 0.98, 0.96]],
    (4, True): [[1.0, 0.5, 0.25], [1.0, 0.3, 0.05]],
}


def test_training_explorer_caption_by_hand():
    grid = explorer_grid({k: [[LN2 * v for v in run] for run in runs] for k, runs in HAND.items()})
    explorer = training_explorer(grid, (3, 5), n_digits=2)
    # the first state: the deepest stack, the median of the two seeds (the mean of the two)
    assert repr(explorer) == (
        "4 blocks, median of 2 seeds: after 10 steps the training loss is 0.98 times the loss of "
        "guessing (ln 2) without shortcuts and 0.15 times it with them."
    )
    captions = [caption for by_depth in explorer.data()["states"] for caption, _ in by_depth]
    assert captions[1] == (
        "1 block, seed 3: after 10 steps the training loss is 0.40 times the loss of guessing "
        "(ln 2) without shortcuts and 0.20 times it with them."
    )
    assert len(set(captions)) == len(captions) == 6  # every move changes the words
    low = training_explorer(grid, (3, 5), n_digits=2, depth=1)
    assert repr(low).startswith("1 block, median of 2 seeds: ")
    assert low.views[1, "median"][0].y["with"] == pytest.approx([1.0, 0.6, 0.3])


def test_training_explorer_carries_every_run():
    rng = np.random.default_rng(0)
    seeds, steps = (0, 1, 2), list(range(0, 101, 10))
    losses = {
        (d, s): [list(rng.uniform(0.02, 1.15, len(steps))) for _ in seeds]
        for d in (2, 8)
        for s in (False, True)
    }
    explorer = training_explorer(explorer_grid(losses, steps), seeds, n_digits=3)
    data = explorer.data()
    assert data["controls"] == [["2 blocks", "8 blocks"],
                                ["median of 3 seeds", "seed 0", "seed 1", "seed 2"]]  # fmt: skip
    for i, d in enumerate((2, 8)):
        for j, run in enumerate(["median", *seeds]):
            caption, parts = data["states"][i][j]
            assert caption.startswith(f"{d} blocks, {data['controls'][1][j]}: ")
            _, x_axis, y_axis, _ = explorer.views[d, run]
            for k, use_shortcut in enumerate((False, True)):
                runs = losses[d, use_shortcut]
                by_hand = [
                    statistics.median(r[n] for r in runs) if run == "median" else runs[run][n]
                    for n in range(len(steps))
                ]
                drawn = points(data["pool"][parts[2 + k]], x_axis, y_axis, top_of(explorer))
                assert [x for x, _ in drawn] == pytest.approx(steps, abs=0.02)
                assert [y for _, y in drawn] == pytest.approx(
                    [v / math.log(3) for v in by_hand], abs=1e-3
                )
    # one vertical axis for every state, from 0 to above every value, with labelled ticks
    y_axis = explorer.views[2, 0][2]
    assert (
        y_axis.lo == 0 and max(max(map(max, r)) for r in losses.values()) / math.log(3) <= y_axis.hi
    )
    assert [t for _, t in y_axis.ticks][:2] == ["0", "0.2"] and (1.0, "1") in y_axis.ticks


def test_training_explorer_is_accessible_and_light():
    seeds, steps = (0, 1, 2), list(range(0, 101, 10))
    losses = {(d, s): [[1.0 - 0.009 * n * s for n in steps]] * 3 for d in (2, 8) for s in (0, 1)}
    html = training_explorer(explorer_grid(losses, steps), seeds, n_digits=3)._repr_html_()
    soup = BeautifulSoup(html, "html.parser")
    slider = soup.find("input", type="range")
    assert slider.find_parent("label").get_text(strip=True) == "Depth"
    assert (slider["max"], slider["value"], slider["aria-valuetext"]) == ("1", "1", "8 blocks")
    assert soup.find("select").find_parent("label").get_text().startswith("Runs")
    assert soup.figcaption.get_text().startswith("8 blocks, median of 3 seeds")
    assert len(gzip.compress(html.encode())) < 30_000


@pytest.mark.parametrize(
    "change, kwargs, error, match",
    [
        (lambda g: {}, {}, TypeError, "non-empty dict"),
        (lambda g: {k: v for k, v in g.items() if k != (4, True)}, {}, ValueError, "with and without"),
        (lambda g: {k: v for k, v in g.items() if k[0] == 4}, {}, ValueError, "two depths"),
        (lambda g: g, {"seeds": (3,)}, ValueError, "two seeds"),
        (lambda g: g, {"seeds": (3, 5, 7)}, ValueError, "2 runs for 3 seeds"),
        (lambda g: g, {"n_digits": 1}, ValueError, "n_digits"),
        (lambda g: g, {"depth": 2}, ValueError, "not a value of control 'depth'"),
        (lambda g: {**g, (1, True): explorer_grid({0: HAND[1, True]}, (0, 5, 9))[0]}, {},
         ValueError, "same steps"),
        (lambda g: {**g, (1, True): explorer_grid({0: [[1.0, math.nan, 0.5]] * 2})[0]}, {},
         ValueError, "finite"),
        (lambda g: {**g, (1, True): explorer_grid({0: [[1.0, -0.1, 0.5]] * 2})[0]}, {},
         ValueError, "not negative"),
    ],
)  # fmt: skip
def test_training_explorer_refuses_bad_input(change, kwargs, error, match):
    kwargs = {"seeds": (3, 5), "n_digits": 2, **kwargs}
    with pytest.raises(error, match=match):
        training_explorer(change(explorer_grid(HAND)), **kwargs)
