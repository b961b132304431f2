"""What batch-norm layers normalize over: the model's batch size, the samples one layer call covers, and the
hook armed for one sampled call only."""
import torch
from torch import nn

from traindoctor.measure.norm_batches import LayerCall, NormBatches, Sampler, model_batch


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
