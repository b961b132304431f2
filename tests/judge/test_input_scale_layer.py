"""Unnormalized inputs judged where the data first meets weights: the input of the model's first
weighted layer (Linear, convolution, RNN, attention), whatever the model receives and whatever it does
to it before. Broken shapes and healthy look-alikes, recorded in-process under run's hooks."""
import pytest
import torch
from torch import nn
import torch.nn.functional as F

from traindoctor.judge import numerics
from traindoctor.measure.hooks import installed
from traindoctor.measure.recorder import Recorder


def record(model, batches, targets, loss=F.cross_entropy, steps=12, lr=1e-3):
    """Train `model` a few steps under the hooks, as run records a script."""
    rec = Recorder(max_steps=0)
    with installed(rec):
        opt = torch.optim.Adam(model.parameters(), lr=lr)
        for i in range(steps):
            out = model(batches[i % len(batches)])
            opt.zero_grad()
            loss(out, targets[i % len(targets)]).backward()
            opt.step()
    return rec


def scale_findings(rec):
    return [f for f in numerics.check(rec) if f.code == "unnormalized-inputs"]


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


def dark_pixels(n=32, side=12, dtype=torch.float32):
    """0-255 pixels on a dark background: mean and std below 100, root mean square about 70."""
    img = torch.full((n, 1, side, side), 40.0) + 12 * torch.randn(n, 1, side, side, generator=gen())
    img[:, :, side // 2, 2:-2] = 230
    img[:, :, 2:-2, side // 3] = 230
    return img.clamp(0, 255).to(dtype)


def labels(n=32, k=4):
    return torch.randint(0, k, (n,), generator=gen(1))


class CastingCNN(nn.Module):
    """Receives uint8 images and casts them itself, without scaling."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 8, 3, padding=1)
        self.head = nn.Linear(8, 4)

    def forward(self, x):
        return self.head(F.relu(self.conv(x.float())).mean((2, 3)))


class ScalingCNN(CastingCNN):
    def forward(self, x):
        return super().forward(x.float() / 255)


class Recurrent(nn.Module):
    def __init__(self, features=1):
        super().__init__()
        self.rnn = nn.GRU(features, 16, batch_first=True)
        self.head = nn.Linear(16, 1)

    def forward(self, x):
        return self.head(self.rnn(x)[0][:, -1])


def percentages(n=64, f=6):
    """Features in percent: mean about 50, std about 29, root mean square about 58."""
    return 100 * torch.rand(n, f, generator=gen(2))


def prices(n=32, t=20):
    """A price series around 70 (per step), one feature per step."""
    return 70 + torch.cumsum(torch.randn(n, t, 1, generator=gen(3)), 1)


# ── broken: the first weighted layer receives values far from unit scale ──────────────────────────
BROKEN = {
    "uint8-cast-inside-forward": lambda: (CastingCNN(), [dark_pixels(dtype=torch.uint8)], [labels()], F.cross_entropy),
    "float-pixels-into-conv": lambda: (CastingCNN(), [dark_pixels()], [labels()], F.cross_entropy),
    "percent-features-into-mlp": lambda: (nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Linear(16, 3)),
                                          [percentages()], [labels(64, 3)], F.cross_entropy),
    "price-series-into-gru": lambda: (Recurrent(), [prices()], [torch.randn(32, 1)], F.mse_loss),
    "flattened-pixels-into-linear": lambda: (nn.Sequential(nn.Flatten(), nn.Linear(144, 4)), [dark_pixels()],
                                             [labels()], F.cross_entropy),
}


@pytest.mark.parametrize("case", BROKEN)
def test_first_layer_input_far_from_unit_scale(case):
    model, batches, targets, loss = BROKEN[case]()
    found = scale_findings(record(model, batches, targets, loss))
    assert len(found) == 1, [f.observation for f in found]  # once, though the model's input is the same tensor
    assert found[0].evidence["first_layer"] is not None and found[0].evidence["rms"] > 50, found[0].evidence


def test_the_layer_is_named_and_the_cast_tensor_too():
    found = scale_findings(record(CastingCNN(), [dark_pixels(dtype=torch.uint8)], [labels()]))
    assert found[0].evidence["first_layer"] == "conv" and found[0].location["module"] == "conv"
    assert "`conv`" in found[0].observation


# ── healthy look-alikes ───────────────────────────────────────────────────────────────────────────
class InputNorm(nn.Module):
    """Raw features standardized by the model's own first layer, a BatchNorm."""

    def __init__(self, f=6):
        super().__init__()
        self.net = nn.Sequential(nn.BatchNorm1d(f), nn.Linear(f, 16), nn.ReLU(), nn.Linear(16, 3))

    def forward(self, x):
        return self.net(x)


class Tokens(nn.Module):
    """Integer ids through an Embedding (scaled by sqrt(d), a transformer habit) into a Linear."""

    def __init__(self, d=256):
        super().__init__()
        self.d, self.emb, self.proj, self.head = d, nn.Embedding(50, d), nn.Linear(d, d), nn.Linear(d, 5)

    def forward(self, ids):
        return self.head(F.relu(self.proj(self.emb(ids) * self.d ** 0.5)).mean(1))


HEALTHY = {
    "pixels-scaled-outside": lambda: (CastingCNN(), [dark_pixels() / 255], [labels()], F.cross_entropy),
    "uint8-scaled-inside-forward": lambda: (ScalingCNN(), [dark_pixels(dtype=torch.uint8)], [labels()], F.cross_entropy),
    "bright-float-pixels-scaled-inside": lambda: (ScalingCNN(), [dark_pixels() + 100], [labels()], F.cross_entropy),
    "batchnorm-first-on-raw-features": lambda: (InputNorm(), [percentages() * 10], [labels(64, 3)], F.cross_entropy),
    "layernorm-first-on-raw-pixels": lambda: (nn.Sequential(nn.Flatten(), nn.LayerNorm(144), nn.Linear(144, 4)),
                                              [dark_pixels()], [labels()], F.cross_entropy),
    "embedding-on-integer-ids": lambda: (Tokens(), [torch.randint(0, 50, (16, 12), generator=gen(4))],
                                         [labels(16, 5)], F.cross_entropy),
    "standardized-series-into-gru": lambda: (Recurrent(), [(prices() - 70) / 3], [torch.randn(32, 1)], F.mse_loss),
}


@pytest.mark.parametrize("case", HEALTHY)
def test_unit_scale_at_the_first_layer_is_quiet(case):
    model, batches, targets, loss = HEALTHY[case]()
    assert scale_findings(record(model, batches, targets, loss)) == []


def test_raw_inputs_that_reach_no_layer_first_still_count():
    """A second input, used after the first layer, is still judged at the model's door (over 100 per column)."""

    class TwoInputs(nn.Module):
        def __init__(self):
            super().__init__()
            self.a, self.b = nn.Linear(4, 8), nn.Linear(8 + 3, 2)

        def forward(self, x, extra):
            return self.b(torch.cat([F.relu(self.a(x)), extra], 1))

    rec = Recorder(max_steps=0)
    x, extra, y = torch.randn(32, 4, generator=gen()), 1000 + 300 * torch.rand(32, 3, generator=gen(5)), labels(32, 2)
    with installed(rec):
        model = TwoInputs()
        opt = torch.optim.SGD(model.parameters(), lr=1e-4)
        for _ in range(5):
            opt.zero_grad(); F.cross_entropy(model(x, extra), y).backward(); opt.step()
    found = scale_findings(rec)
    assert [f.evidence["tensor"] for f in found] == ["arg1"]


def test_no_hook_is_left_behind():
    hooks = nn.modules.module._global_forward_pre_hooks
    before = len(hooks)
    record(Tokens(), [torch.randint(0, 50, (16, 12), generator=gen(4))], [labels(16, 5)])
    record(CastingCNN(), [dark_pixels()], [labels()])
    assert len(hooks) == before


# ── severity follows consequence ──────────────────────────────────────────────────────────────────
def test_an_error_when_the_loss_did_not_fall():
    rec = record(CastingCNN(), [dark_pixels()], [labels()])
    rec.n_steps = 60  # longer than one experiment: a flat loss then counts as not learning
    rec.records = [{"step": i, "loss": 1.4} for i in range(60)]  # a loss that stays where it started
    assert scale_findings(rec)[0].severity == "error"
    rec.records = [{"step": i, "loss": 1.4 / (1 + i / 10)} for i in range(60)]
    assert scale_findings(rec)[0].severity == "warning"


class Packed(nn.Module):
    """A PackedSequence, not a tensor, reaches the first layer."""

    def __init__(self):
        super().__init__()
        self.rnn, self.head = nn.LSTM(3, 8), nn.Linear(8, 4)

    def forward(self, x):
        packed = nn.utils.rnn.pack_padded_sequence(x, [x.shape[0]] * x.shape[1])
        return self.head(self.rnn(packed)[1][0][-1])


class Keyword(nn.Module):
    """The first layer called with a keyword argument (global pre-hooks see positional ones only)."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(6, 4)

    def forward(self, x):
        return self.fc(input=x)


class Unused(nn.Module):
    """Weighted layers that this forward never calls."""

    def __init__(self):
        super().__init__()
        self.w, self.spare = nn.Parameter(torch.randn(6, 4)), nn.Linear(6, 4)

    def forward(self, x):
        return x @ self.w


@pytest.mark.parametrize("model,batch", [
    (Packed, lambda: 100 * torch.rand(10, 16, 3, generator=gen())),
    (Keyword, lambda: percentages(32)),
    (Unused, lambda: percentages(32)),
])
def test_calls_the_layer_hook_cannot_read_leave_the_recording_intact(model, batch):
    hooks = nn.modules.module._global_forward_pre_hooks
    before = len(hooks)
    rec = record(model(), [batch()], [labels(16 if model is Packed else 32)], steps=5)
    assert rec.failure is None and rec.n_steps == 5
    nn.Identity()(torch.zeros(1))  # any later module call removes a hook still waiting
    assert len(hooks) == before


# ── a normalization straight after the first weighted layer divides out the input's common scale ──────

class NormAfterFirst(nn.Module):
    """A weight layer, then `norm` on its output: the forward is the same for x and 255 * x."""

    def __init__(self, first, norm, head):
        super().__init__()
        self.first, self.norm, self.head = first, norm, head

    def forward(self, x):
        h = F.relu(self.norm(self.first(x)))
        return self.head(h.flatten(2).mean(2) if h.dim() > 2 else h)


@pytest.mark.parametrize("make", [
    lambda: NormAfterFirst(nn.Conv2d(1, 8, 3, padding=1), nn.BatchNorm2d(8), nn.Linear(8, 4)),
    lambda: NormAfterFirst(nn.Conv2d(1, 8, 3, padding=1), nn.GroupNorm(2, 8), nn.Linear(8, 4)),
    lambda: NormAfterFirst(nn.Sequential(nn.Flatten(), nn.Linear(144, 16)), nn.LayerNorm(16), nn.Linear(16, 4)),
])
def test_raw_pixels_into_a_layer_whose_output_is_normalized_are_in_scale(make):
    rec = record(make(), [dark_pixels() * 3], [labels()])  # rms about 210: out of scale for a plain first layer
    assert scale_findings(rec) == []
    assert rec.input_scale[0].get("normalized_by")


def test_the_same_pixels_without_the_normalization_are_out_of_scale():
    model = NormAfterFirst(nn.Conv2d(1, 8, 3, padding=1), nn.Identity(), nn.Linear(8, 4))
    rec = record(model, [dark_pixels() * 3], [labels()])
    assert [f.code for f in scale_findings(rec)] == ["unnormalized-inputs"]
    assert "normalized_by" not in rec.input_scale[0]


def test_an_activation_between_the_layer_and_the_norm_keeps_the_scale_finding():
    """relu(W(a x) + b) is not a rescaled relu(W x + b): the bias is not scaled with the input."""
    model = NormAfterFirst(nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU()), nn.BatchNorm2d(8), nn.Linear(8, 4))
    rec = record(model, [dark_pixels() * 3], [labels()])
    assert [f.code for f in scale_findings(rec)] == ["unnormalized-inputs"]


def test_one_column_far_above_the_others_is_still_out_of_scale_behind_a_norm():
    x = torch.randn(64, 8, generator=gen())
    x[:, 3] *= 5000  # one feature in other units: the norm after the layer cannot fix a ratio between columns
    model = NormAfterFirst(nn.Linear(8, 16), nn.BatchNorm1d(16), nn.Linear(16, 4))
    rec = record(model, [x], [labels(64)])
    found = scale_findings(rec)
    assert [f.code for f in found] == ["unnormalized-inputs"] and found[0].evidence["columns"] == [3]
