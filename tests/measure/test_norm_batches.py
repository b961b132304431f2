"""What batch-norm layers normalize over: the model's batch size, the samples one layer call covers, and the
hook armed for one sampled call only."""
import torch
from torch import nn

from traindoctor.measure.norm_batches import LayerCall, NormBatches, Sampler, model_batch, output_scale, unfitted


def test_model_batch_from_what_the_script_passed():
    assert model_batch((torch.zeros(16, 3),), {}) == 16
    assert model_batch((torch.zeros(1, 4), torch.zeros(8, 3)), {}) == 8  # a condition beside the batch
    assert model_batch(((torch.zeros(8, 3), torch.zeros(8, 5)),), {}) == 8  # a tuple of inputs, one batch each
    assert model_batch(([torch.zeros(12, 6), torch.zeros(9, 6), torch.zeros(30, 6)],), {}) == 3  # bags
    assert model_batch((), {"x": torch.zeros(5, 2)}) == 5 and model_batch((3,), {}) is None


def test_samples_one_layer_call_covers():
    call = lambda calls, batch: LayerCall("bn", "BatchNorm1d", calls, batch, batch, [batch, 4])
    assert call(1, 1).samples(1) == 1 and call(1, 32).samples(32) == 32
    assert call(1, 64).samples(1) == 1  # the points of one cloud
    assert call(16, 12).samples(16) == 1  # once per sample of the batch, on a set of 12 points
    assert call(16, 16).samples(16) == 16  # once per time step, over the whole batch each time
    assert call(2, 16).samples(16) == 16  # two views of the batch


def test_sampler_watches_one_call_and_leaves_no_hook():
    model = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.Linear(8, 8), nn.BatchNorm1d(8))
    model[3].eval()
    sampler, into, x = Sampler(), NormBatches(), torch.randn(5, 4)
    assert sampler.arm(model, 1, (x,), {})
    model(x)
    sampler.collect(model, into)
    assert not nn.modules.module._global_forward_pre_hooks
    (batch, layers), = into.calls
    assert batch == 5 and [(c.layer, c.calls, c.batch, c.per_channel, c.shape) for c in layers] == [("1", 1, 5, 5, [5, 8])]


def test_sampling_is_drawn_the_same_every_run_and_a_raised_call_is_dropped():
    model, x = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8)), torch.randn(5, 4)

    def drawn():
        sampler, picked = Sampler(), []
        for n in range(1, 200):
            if sampler.arm(model, n, (x,), {}):
                picked.append(n)
            sampler.disarm()
        return picked

    first = drawn()
    assert first[:3] == [1, 2, 3] and first == drawn() and 10 < len(first) < 50
    sampler, into = Sampler(), NormBatches()
    sampler.arm(model, 1, (x,), {})
    sampler.arm(model, 2, (x,), {})  # the first call raised before it returned: re-armed, nothing kept
    model(x)
    sampler.collect(model, into)
    assert len(into.calls) == 1 and not nn.modules.module._global_forward_pre_hooks


def test_eval_mode_output_scale_tells_fitted_statistics_from_initial_ones():
    x = torch.randn(64, 6, 5, 5) * 40 + 120  # raw pixel-like values
    fresh, fitted = nn.BatchNorm2d(6).eval(), nn.BatchNorm2d(6)
    fitted.momentum = None  # a cumulative average: fitted to the batches it saw
    for _ in range(3):
        fitted(x)
    fitted.eval()
    assert 100 < output_scale(fresh, x) < 160 and unfitted(fresh)  # about the data's root mean square, 126
    assert 0.9 < output_scale(fitted, x) < 1.1 and not unfitted(fitted)
    assert output_scale(fresh, torch.full((1, 6), float("nan"))) is None


def test_sampler_measures_the_layers_in_eval_mode_only():
    model = nn.Sequential(nn.BatchNorm1d(4), nn.Linear(4, 8), nn.BatchNorm1d(8))
    model[0].eval()  # raw inputs of spread 50 pass through it unnormalized
    sampler, into, x = Sampler(), NormBatches(), torch.randn(32, 4) * 50
    sampler.arm(model, 1, (x,), {})
    model(x)
    sampler.collect(model, into)
    assert list(into.eval_scales) == ["0"] and into.never_fitted == {"0": True} and 30 < into.eval_scales["0"][0] < 70
