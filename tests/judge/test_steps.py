"""The step rules on synthetic records: each rule on differently shaped broken series and on healthy
look-alikes. The same class judges run's records, the Monitor's and logged columns in curves."""

import math

import pytest

from traindoctor.judge.steps import StepRules


def judge(records, **kw):
    rules = StepRules("run", **kw)
    return [f.code for r in records for f in rules.observe(r)]


def series(n, **columns):
    return [{"step": i, **{k: f(i) for k, f in columns.items()}} for i in range(n)]


def falling(i):
    return 2.0 * math.exp(-i / 60) + 0.2


# ── exploding and vanishing gradients ───────────────────────────────────────
@pytest.mark.parametrize("norm", [
    lambda i: 1.4 ** i,                        # steady geometric growth
    lambda i: 0.3 if i < 50 else 800.0,        # a sudden jump that stays
    lambda i: 1.0 if i != 70 else 5e4,         # a single explosive step
])
def test_exploding_gradients(norm):
    assert "exploding-gradients" in judge(series(100, loss=falling, grad_norm=norm))


def test_exploding_is_judged_before_clipping_and_healthy_decay_is_quiet():
    clipped = series(60, loss=falling, grad_norm=lambda i: 1.0, grad_norm_before_clip=lambda i: 1.5 ** i)
    assert "exploding-gradients" in judge(clipped)
    assert judge(series(300, loss=falling, grad_norm=lambda i: 50.0 / (1 + i))) == []  # falls 300x: fine


@pytest.mark.parametrize("norm", [lambda i: 1e-9, lambda i: 3e-8 * (1 + 0.5 * math.sin(i)), lambda i: 1e-8 / (1 + i)])
def test_vanishing_gradients(norm):
    assert judge(series(40, loss=lambda i: 2.3, grad_norm=norm)) == ["vanishing-gradients"]


def test_no_gradient_at_all_is_not_vanishing():
    assert judge(series(40, loss=lambda i: 2.3, grad_norm=lambda i: 0.0)) == []


def test_a_gradient_gone_with_a_fitted_loss_is_not_vanishing():
    """A separable batch fitted under a summed loss: the loss reaches 0.0 in float32 and its slope with it."""
    fitted = series(60, loss=lambda i: 140.0 * 10 ** -i if i < 10 else 0.0, grad_norm=lambda i: 100.0 * 10 ** -i)
    assert judge(fitted) == []


# ── divergence and the learning rate ────────────────────────────────────────
@pytest.mark.parametrize("loss", [
    lambda i: 1.0 * 1.3 ** i,                  # geometric blow-up
    lambda i: 1.0 if i < 30 else 40.0,         # a jump to a new, high level
    lambda i: 2.0 - i / 100 if i < 40 else 30.0 + i,  # improves, then leaves for good
])
def test_divergence(loss):
    assert "loss-divergence" in judge(series(60, loss=loss))


def test_a_single_spike_is_not_divergence():
    found = judge(series(100, loss=lambda i: 30.0 if i == 60 else falling(i)))
    assert "loss-divergence" not in found


def sgd():
    import torch

    return torch.optim.SGD([torch.nn.Parameter(torch.ones(1))], lr=0.1)


def test_large_updates_before_a_divergence_are_the_cause():
    broken = series(40, loss=lambda i: 1.5 ** i, update_ratio=lambda i: 0.4, grad_norm=lambda i: 1.0)
    assert judge(broken, optimizer=sgd())[:2] == ["lr-too-high", "loss-divergence"]
    nan = series(20, loss=lambda i: 2.0 * 1.2 ** i if i < 15 else math.nan, update_ratio=lambda i: 0.3)
    assert "lr-too-high" in judge(nan, optimizer=sgd())
    late = series(60, loss=lambda i: 1.0 if i < 30 else 1.3 ** (i - 20), update_ratio=lambda i: 0.2)
    assert "lr-too-high" in judge(late)  # past the first steps, whatever the optimizer


def test_large_updates_alone_or_a_sudden_nan_on_a_steady_loss_are_not_lr_too_high():
    steady = series(200, loss=falling, update_ratio=lambda i: 0.2, grad_norm=lambda i: 1.0)
    assert judge(steady) == []  # a healthy CNN with SGD sustains ratios like these
    nan_batch = series(60, loss=lambda i: falling(i) if i < 50 else math.nan, update_ratio=lambda i: 0.3)
    assert "lr-too-high" not in judge(nan_batch)


@pytest.mark.parametrize("loss", [
    lambda i: [1.4, 2.8, 5.5, 9.9, 7.3, 1.8, 3.2, 4.8, 2.7, 4.2][i % 10],  # bounces well above the start
    lambda i: 1.0 + 2.5 * (i % 4 == 3),                                      # every 4th step thrown up
    lambda i: 2.0 - i / 100 if i % 25 else 6.0,                               # improving, but kicked back
])
def test_large_updates_that_throw_the_loss_back_up(loss):
    found = judge(series(120, loss=loss, update_ratio=lambda i: 0.15), optimizer=sgd())
    assert "lr-too-high" in found


def test_overshooting_losses_with_small_updates_are_not_lr_too_high():
    noisy = series(120, loss=lambda i: 1.0 + 2.5 * (i % 4 == 3), update_ratio=lambda i: 1e-3)
    assert "lr-too-high" not in judge(noisy, optimizer=sgd())


def test_adaptive_optimizers_first_updates_are_sign_like():
    import torch

    opt = torch.optim.Adam([torch.nn.Parameter(torch.ones(2))], lr=0.1)
    opt.param_groups[0]["params"][0].grad = torch.ones(2)
    opt.step()
    early = series(14, loss=lambda i: 1.0 * 3 ** i, update_ratio=lambda i: 0.5 if i < 3 else 1e-3)
    for r in early:
        r["optimizer_step"] = r["step"]
    assert "lr-too-high" not in judge(early, optimizer=opt)  # Adam's first steps move every weight by ~lr
    assert "lr-too-high" in judge(early, optimizer=sgd())


@pytest.mark.parametrize("loss", [
    lambda i: [1.1, 4.0, 1.6e4, 2.3, 1.6][i] if i < 5 else 1.2 + 0.1 * math.sin(i),  # back near the start, stuck
    lambda i: 0.56 * 30 ** i if i < 4 else 0.7,                                         # stuck above the start
    lambda i: 80.0 if i in (10, 11) else 2.0 + 0.05 * (i % 3),                         # later, then flat
])
def test_a_blowup_that_comes_back_to_a_stuck_loss_is_lr_too_high(loss):
    """Large updates threw the loss up by orders of magnitude; it came back within the divergence window
    and never got below where it started (the blow-up killed units): no divergence, the rate is the cause."""
    found = judge(series(60, loss=loss, update_ratio=lambda i: 2.0 if i < 3 or 9 <= i < 12 else 1e-4), optimizer=sgd())
    assert "lr-too-high" in found and "loss-divergence" not in found


def test_a_spike_the_loss_recovers_from_or_without_large_updates_is_not():
    recovers = series(60, loss=lambda i: 30.0 if i == 3 else falling(i), update_ratio=lambda i: 2.0 if i < 3 else 1e-3)
    assert "lr-too-high" not in judge(recovers, optimizer=sgd())
    small = series(60, loss=lambda i: 30.0 if i == 3 else 2.3, update_ratio=lambda i: 1e-3)
    assert "lr-too-high" not in judge(small, optimizer=sgd())


def observed(records, code, **kw):
    rules = StepRules("run", **kw)
    return next(f for r in records for f in rules.observe(r) if f.code == code)


def adam():
    import torch

    return torch.optim.Adam([torch.nn.Parameter(torch.ones(1))], lr=1e-3)


def test_a_loss_summed_over_a_fixed_count_under_sgd_is_named_as_the_rate_s_excess():
    """SGD's step is the rate times the gradient: a sum of N terms steps N times as far as their mean."""
    records = series(40, loss=lambda i: 128 * 1.5 ** i, update_ratio=lambda i: 0.4, loss_terms=lambda i: 128)
    said = observed(records, "lr-too-high", optimizer=sgd())
    assert "a sum of 128 terms" in said.observation and said.evidence["summed_terms"] == 128
    mean = series(40, loss=lambda i: 1.5 ** i, update_ratio=lambda i: 0.4)
    assert "sum of" not in observed(mean, "lr-too-high", optimizer=sgd()).observation
    episodes = series(40, loss=lambda i: 1.5 ** i * (10 + i % 7), update_ratio=lambda i: 0.4, loss_terms=lambda i: 10 + i % 7)
    assert all("sum of" not in f.observation for r in episodes for f in StepRules("run", optimizer=sgd()).observe(r))


def test_a_ragged_last_batch_leaves_a_summed_loss_fixed():
    """A DataLoader's last batch of 104 once an epoch of 128s: the sum is still over a fixed count, and a
    blow-up that comes back to a stuck loss is still judged (episodes of varying length are not)."""
    def terms(i):
        return 104 if i % 8 == 7 else 128

    records = series(60, loss=lambda i: terms(i) * ([1.1, 4.0, 1.6e4, 2.3, 1.6][i] if i < 5 else 1.2),
                     update_ratio=lambda i: 2.0 if i < 3 else 1e-5, loss_terms=terms)
    said = observed(records, "lr-too-high", optimizer=sgd())
    assert said.evidence["summed_terms"] == 128


def test_a_few_objectives_added_up_are_not_named_as_a_sum():
    """A task plus a weighted auxiliary term is a sum of 2: their weights set the scale, not the count."""
    records = series(40, loss=lambda i: 2 * 1.5 ** i, update_ratio=lambda i: 0.4, loss_terms=lambda i: 2)
    assert "sum of" not in observed(records, "lr-too-high", optimizer=sgd()).observation


def test_a_summed_loss_under_adam_is_not_named():
    """Adam divides the gradient by its running scale: a sum takes the same steps as the mean."""
    records = series(40, loss=lambda i: 128 * 1.5 ** i, update_ratio=lambda i: 1.5, loss_terms=lambda i: 128)
    assert "sum of" not in observed(records, "lr-too-high", optimizer=adam()).observation


def test_a_mean_over_many_terms_is_named_when_it_accounts_for_too_small_updates():
    tokens = series(80, loss=lambda i: 1.54, update_ratio=lambda i: 5e-6, loss_averaged=lambda i: 4096)
    said = observed(tokens, "lr-too-low", optimizer=sgd())
    assert "a mean of 4096 terms" in said.observation and said.evidence["averaged_terms"] == 4096
    batch = series(80, loss=lambda i: 2.3, update_ratio=lambda i: 1e-8, loss_averaged=lambda i: 32)
    assert "mean of" not in observed(batch, "lr-too-low", optimizer=sgd()).observation  # 32x does not make 1e-8 usable
    assert "mean of" not in observed(tokens, "lr-too-low", optimizer=adam()).observation


@pytest.mark.parametrize("loss", [lambda i: 2.3, lambda i: 2.3 + 0.02 * math.sin(i), lambda i: 2.3 - 1e-4 * i])
def test_lr_too_low(loss):
    assert judge(series(80, loss=loss, update_ratio=lambda i: 1e-7)) == ["lr-too-low"]


def test_small_updates_with_a_falling_loss_or_a_warmup_are_not_lr_too_low():
    assert judge(series(80, loss=falling, update_ratio=lambda i: 1e-7)) == []  # converging anyway
    for horizon in (20, 200, 2000):  # linear warm-ups, short and long
        warmup = series(80, loss=lambda i: 2.3, update_ratio=lambda i: 1e-8 * (1 + i), lr=lambda i: [1e-6 * min(1, i / horizon)])
        assert judge(warmup) == ([] if horizon > 80 else ["lr-too-low"])


# ── loss shape, validation, activations ─────────────────────────────────────
@pytest.mark.parametrize("spike", [lambda i: 9.0, lambda i: 20.0, lambda i: 6.0])
def test_spikes(spike):
    found = judge(series(120, loss=lambda i: spike(i) if i == 90 else 1.0 - i / 1000))
    assert found == ["loss-spikes"]


def test_a_loss_that_climbs_over_many_steps_is_no_spike():
    """A VQ-VAE's loss climbs for a while as codes reassign, past 3x a lagging median, no step jumping;
    the same height reached in one step is a spike."""
    climb = series(80, loss=lambda i: 0.5 if i < 60 else 0.5 * 1.08 ** (i - 60))   # 4.3x in 20 steps
    assert "loss-spikes" not in judge(climb)
    jump = series(80, loss=lambda i: 0.5 if i != 79 else 0.5 * 1.08 ** 19)
    assert judge(jump) == ["loss-spikes"]


def test_plateau_needs_two_windows():
    assert judge(series(101, loss=lambda i: 2.3 + 0.01 * (i % 3)), window=50) == ["loss-plateau"]
    assert judge(series(101, loss=falling), window=50) == []


def test_overfitting():
    rising = [{"step": i, "loss": 2 - i / 100, **({"val_loss": 1 + i / 100} if i % 20 == 19 else {})} for i in range(100)]
    assert judge(rising) == ["overfitting"]
    falling_val = [{"step": i, "loss": 2 - i / 100, **({"val_loss": 2 - i / 100} if i % 20 == 19 else {})} for i in range(100)]
    assert judge(falling_val) == []


def test_dead_layers_need_a_streak():
    dead = [{"step": 10 * i, "dead_fraction": {"fc1": 0.95, "fc2": 0.2}} for i in range(3)]
    assert judge(dead) == ["dead-relu"]
    flicker = [{"step": 10 * i, "dead_fraction": {"fc1": 0.95 if i % 2 else 0.5}} for i in range(6)]
    assert judge(flicker) == []


# ── clipping (the worked example of docs/architecture.md) ───────────────────
@pytest.mark.parametrize("before", [
    lambda i: 1.0,                              # steady gradients, a clip 100x below them
    lambda i: 0.5 + i / 10,                     # growing gradients under a fixed clip
    lambda i: 2.0 if i % 10 else 0.004,         # cut on 9 of every 10 steps
])
def test_clipping_every_step(before):
    records = series(40, loss=falling, grad_norm_before_clip=before, grad_norm=lambda i: min(before(i), 0.01))
    assert judge(records) == ["clipping-every-step"]


def test_clipping_spikes_or_mildly_is_not_a_finding():
    spikes = series(60, loss=falling, grad_norm_before_clip=lambda i: 30.0 if i % 7 == 0 else 0.8,
                    grad_norm=lambda i: 1.0 if i % 7 == 0 else 0.8)
    mild = series(60, loss=falling, grad_norm_before_clip=lambda i: 3.0, grad_norm=lambda i: 1.0)  # LLM-style early clipping
    unclipped = series(60, loss=falling, grad_norm=lambda i: 1.0)
    assert judge(spikes) == judge(mild) == judge(unclipped) == []


@pytest.mark.parametrize("loss", [
    lambda i: [0.13, 2.4, 0.09, -1.0, 1.3, -0.2][i % 6] * (1 + i / 20),  # a REINFORCE surrogate, growing swings
    lambda i: 0.007 if i < 10 else (0.14 if i % 2 else -0.1),              # starts near zero, then swings
    lambda i: -5.0 + 8.0 * math.sin(i / 5),                                 # a density's log-likelihood
])
def test_losses_seen_below_zero_are_not_judged_against_multiples_of_their_start(loss):
    assert judge(series(200, loss=loss, update_ratio=lambda i: 1e-7)) == []


@pytest.mark.parametrize("jump", [20.0, 9.0, 50.0])
def test_single_step_jumps_of_episode_sums_are_the_datas(jump):
    """Actor-critic losses summed over episodes of varying length jump 20x from one step to the next."""
    records = series(200, loss=lambda i: (jump if i % 37 == 36 else falling(i)) * (10 + i % 7))
    for i, r in enumerate(records):
        r["loss_terms"] = 10 + i % 7
    assert judge(records) == []
    fixed = series(200, loss=lambda i: jump if i == 150 else falling(i))  # the same jump in a supervised loss
    assert "loss-spikes" in judge(fixed)


def test_a_nan_batch_leaves_the_rules_judging_the_steps_after_it():
    records = series(200, loss=lambda i: 9.0 if i == 150 else 2.3, update_ratio=lambda i: 1e-8)
    records[3].update(loss=math.nan, nonfinite_inputs={"x": None})
    assert judge(records) == ["lr-too-low", "loss-spikes"]


def test_the_step_rules_cost_the_same_per_step_however_long_the_run():
    """Counted in operations, not timed: the state a rule walks per record is bounded."""
    rules = StepRules("monitor")
    for i in range(30_000):
        rules.observe({"step": i, "loss": 2.0, "grad_norm": 1.0, **({"update_ratio": 1e-3} if i % 10 == 0 else {})})
    t = rules.trend
    assert len(t.ratios) <= 1000 and len(t.recent_ratios) <= 10 and len(t.recent) <= 50


def test_the_cli_starts_without_torch():
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", "import sys, traindoctor.cli, traindoctor.monitor.logdir; print('torch' in sys.modules)"],
                          capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"  # `lint`, `--version`, `--help` stay fast


def test_a_log_read_back_judges_update_sizes_as_the_live_monitor_did():
    """The Monitor writes its optimizer's kind into its first record; `report` reads it back."""
    early = series(14, loss=lambda i: 1.0 * 3 ** i, update_ratio=lambda i: 0.5 if i < 3 else 1e-3)
    live = judge(early, optimizer=sgd())
    early[0]["second_moment"] = False
    assert "lr-too-high" in live and judge(early) == live


# ── a loss that falls without bound ──────────────────────────────────────────
@pytest.mark.parametrize("loss", [
    lambda i: 180.0 - 3.0 * i ** 2,                               # a maximized KL: quadratic run to -inf
    lambda i: 2.0 - 0.1 * i if i < 40 else -2.0 * 1.5 ** (i - 40),  # crosses zero, then explodes downwards
    lambda i: 1.0 - 0.05 * i if i < 30 else (-0.5 if i < 35 else math.nan),  # negative, then NaN
])
def test_a_positive_loss_falling_without_bound(loss):
    assert "loss-sign-flipped" in judge(series(80, loss=loss))


@pytest.mark.parametrize("loss", [
    lambda i: 1.4 - 0.03 * i if i < 90 else -1.3,                # a Gaussian NLL whose variance shrinks: negative, bounded
    lambda i: -0.1 - 0.5 * i,                                     # negative from the start (a policy-gradient surrogate)
    falling,                                                       # a loss falling to its floor
])
def test_bounded_losses_are_not(loss):
    assert "loss-sign-flipped" not in judge(series(120, loss=loss))


@pytest.mark.parametrize("jump", [20.0, 9.0, 50.0])
def test_a_td_loss_is_read_against_the_scale_of_its_targets(jump):
    """A TD loss whose bootstrapped targets grow from zero rises with them, and a replay batch with a rare reward
    jumps it once: neither is divergence nor a spike. The same curves against fixed targets are."""
    growing = series(200, loss=lambda i: (jump if i == 150 else 1.0) * 0.01 * (1 + i / 5), target_scale=lambda i: 0.1 * (1 + i / 5))
    assert judge(growing) == []
    fixed = series(200, loss=lambda i: (jump if i == 150 else 1.0) * 0.01 * (1 + i / 5))
    assert "loss-divergence" in judge(fixed)
    relative_blowup = series(200, loss=lambda i: 0.01 * (1 + i) ** 2, target_scale=lambda i: 0.1 * (1 + i / 5))
    assert "loss-divergence" in judge(relative_blowup)
