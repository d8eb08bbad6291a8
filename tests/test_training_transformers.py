"""Protects the training of small GPTs (gradflow.train.train_sequence_model, the chapter's
experiments and gradflow.gradients.stream_rms): runs repeat exactly for a seed, a model without its
shortcuts runs and trains, GPT-2's output-projection scaling gives the stated standard deviations,
gradient norms agree with PyTorch's own, the stream's RMS is right in hand-derived cases, and bad
input is refused with a message naming it."""

import math

import pytest
import torch

from gradflow.experiments import training_transformers as tt
from gradflow.gpt import GPTConfig, GPTModel
from gradflow.gradients import block_weight_grad_norms, stream_rms, weight_matrices
from gradflow.init import out_projections
from gradflow.tasks import SortTask
from gradflow.train import train_sequence_model, warmup_factor

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
    with pytest.raises(ValueError, match="vocabulary"):
        train_sequence_model(model, SortTask(length=3, n_digits=5), train[:, :3], test[:, :3])
    with pytest.raises(ValueError, match="context"):
        train_sequence_model(model, SortTask(length=6, n_digits=3), train, test)
    with pytest.raises(TypeError, match="GPTModel"):
        train_sequence_model(torch.nn.Linear(2, 2), TASK, train, test)
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


def test_spread_by_hand():
    assert tt.spread([3.0, 1.0, 2.0, 10.0]) == tt.Spread(median=2.5, low=1.0, high=10.0)
    with pytest.raises(ValueError, match="empty"):
        tt.spread([])
