"""What the forward computes: no-nonlinearity (trainable weight layers in series with nothing nonlinear
between them, read on the autograd graph) and layout-scrambled (a view/reshape that reorders dimensions).
Each on differently shaped broken models and on healthy look-alikes."""
import torch
import torch.nn.functional as F
from torch import nn

from conftest import codes
from traindoctor.diagnosis.checkup import checkup


def _probe(model, batch, probe, loss_fn=F.cross_entropy):
    return checkup(model, batch, loss_fn, probes=(probe,), progress=False)


def _batch(shape, classes=3):
    g = torch.Generator().manual_seed(0)
    return torch.randn(*shape, generator=g), torch.randint(0, classes, (shape[0],), generator=g)


def _record(report, name):
    return next(r for r in report.sections["checkup"]["probes"] if r["name"] == name)


# ── no-nonlinearity ───────────────────────────────────────────────────────────

class UnusedActivation(nn.Module):
    """Convolutions whose activation is defined but never called."""

    def __init__(self):
        super().__init__()
        self.c1, self.c2, self.act = nn.Conv2d(1, 4, 3), nn.Conv2d(4, 4, 3), nn.ReLU()
        self.head = nn.Linear(4 * 4 * 4, 3)

    def forward(self, x):
        return self.head(self.c2(self.c1(x)).flatten(1))


class DroppedRelu(nn.Module):
    """F.relu's result thrown away, with a residual path and a sequence layout."""

    def __init__(self):
        super().__init__()
        self.inp, self.mid, self.out = nn.Conv1d(5, 8, 1), nn.Linear(8, 8), nn.Linear(8, 3)

    def forward(self, x):                      # (B, 5, T)
        h = self.inp(x).transpose(1, 2)        # (B, T, 8)
        F.relu(h)
        h = h + self.mid(h)
        return self.out(h.mean(1))


class SigmoidOnTop(nn.Module):
    def __init__(self):
        super().__init__()
        self.a, self.b = nn.Linear(6, 16), nn.Linear(16, 1)

    def forward(self, x):
        return torch.sigmoid(self.b(self.a(x))).squeeze(1)


class ClampedInputs(nn.Module):
    """A clamp on the raw inputs is preprocessing: nothing nonlinear stands between the two layers."""

    def __init__(self):
        super().__init__()
        self.a, self.b = nn.Linear(6, 8), nn.Linear(8, 3)

    def forward(self, x):
        return self.b(self.a(x.clamp(min=0)))


def _eval_batchnorm_stack():
    """Dropout and batch norm between the layers: in eval both are affine (running statistics)."""
    model = nn.Sequential(nn.Linear(6, 32), nn.Dropout(0.3), nn.BatchNorm1d(32), nn.Linear(32, 3))
    with torch.no_grad():                      # statistics of their own, so the map is not the identity
        model[2].running_mean.uniform_(-1, 1), model[2].running_var.uniform_(0.5, 2)
    return model


def test_weight_layers_in_series_without_nonlinearity_are_named():
    torch.manual_seed(0)
    convs_pooled = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.AvgPool2d(2), nn.Conv2d(4, 4, 3, padding=1),
                                 nn.AdaptiveAvgPool2d(2), nn.Flatten(), nn.Linear(16, 3))
    cases = [
        (nn.Sequential(nn.Linear(6, 32), nn.Linear(32, 32), nn.Linear(32, 3)), _batch((32, 6)), F.cross_entropy, "2"),
        (convs_pooled, _batch((16, 1, 8, 8)), F.cross_entropy, "5"),
        (_eval_batchnorm_stack(), _batch((32, 6)), F.cross_entropy, "3"),
        (ClampedInputs(), (torch.rand(32, 6), torch.randint(0, 3, (32,))), F.cross_entropy, "b"),
        (UnusedActivation(), _batch((16, 1, 8, 8)), F.cross_entropy, "head"),
        (DroppedRelu(), _batch((16, 5, 7)), F.cross_entropy, "out"),
        (SigmoidOnTop(), (torch.randn(32, 6), torch.rand(32).round()), F.binary_cross_entropy, "b"),
    ]
    for model, batch, loss_fn, layer in cases:
        r = _probe(model, batch, "affine", loss_fn)
        assert codes(r) == ["no-nonlinearity"], (type(model).__name__, _record(r, "affine"))
        assert r.findings[0].location["module"] == layer
        assert _record(r, "affine")["weight_layers_in_series"] >= 2 and _record(r, "affine")["nonlinear_ops"] == []


class ParallelHeads(nn.Module):
    def __init__(self):
        super().__init__()
        self.a, self.b = nn.Linear(6, 2), nn.Linear(6, 1)

    def forward(self, x):
        return torch.cat([self.a(x), self.b(x)], 1)


class PostNormProjection(nn.Module):
    """An input projection straight into q/k/v projections: collapsed pairs inside, nonlinear as a whole."""

    def __init__(self):
        super().__init__()
        self.proj, self.attn = nn.Linear(6, 16), nn.MultiheadAttention(16, 2, batch_first=True)
        self.norm, self.head = nn.LayerNorm(16), nn.Linear(16, 3)

    def forward(self, x):                      # (B, T, 6)
        h = self.proj(x)
        h = self.norm(h + self.attn(h, h, h, need_weights=False)[0])
        return self.head(h.mean(1))


def test_nonlinear_models_linear_models_and_frozen_filters_are_not_named():
    torch.manual_seed(0)
    blur = nn.Conv2d(1, 1, 3, bias=False)
    nn.init.constant_(blur.weight, 1 / 9)
    blur.requires_grad_(False)                 # fixed preprocessing, not a layer that learns
    cases = [
        (nn.Sequential(nn.Linear(6, 32), nn.ReLU(), nn.Linear(32, 3)), _batch((32, 6))),
        (nn.Linear(6, 3), _batch((32, 6))),    # logistic regression: linear on purpose, one layer
        (ParallelHeads(), _batch((32, 6))),
        (PostNormProjection(), _batch((16, 5, 6))),
        (nn.Sequential(blur, nn.Flatten(), nn.Linear(36, 3)), _batch((16, 1, 8, 8))),
        (nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4), nn.Tanh(), nn.Flatten(), nn.Linear(144, 3)),
         _batch((16, 1, 8, 8))),
    ]
    for model, batch in cases:
        r = _probe(model, batch, "affine")
        assert codes(r) == [], (model, [(f.code, f.observation) for f in r.findings])
        assert _record(r, "affine")["status"] == "ran"


def _all_on_mlp():
    """A ReLU MLP whose biases keep every unit on for the batch: the ReLUs pass everything through."""
    model = nn.Sequential(nn.Linear(6, 32), nn.ReLU(), nn.Linear(32, 32), nn.ReLU(), nn.Linear(32, 3))
    with torch.no_grad():
        model[0].bias.fill_(20.0), model[2].bias.fill_(20.0)
    return model


def _positive_critic():
    """A WGAN-style critic with clipped weights whose pre-activations are all positive on the batch."""
    model = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.LeakyReLU(0.2), nn.Flatten(), nn.Linear(8 * 64, 1))
    with torch.no_grad():
        model[0].weight.uniform_(0, 0.05), model[0].bias.fill_(0.05)
    return model


class DetachedInput(nn.Module):
    """The all-on MLP behind a detach: the graph does not reach the inputs, the layers' outputs still carry them."""

    def __init__(self):
        super().__init__()
        self.net = _all_on_mlp()

    def forward(self, x):
        return self.net(x.detach())


def test_nonlinearities_idle_on_the_batch_are_not_missing():
    torch.manual_seed(0)
    images = torch.rand(16, 1, 8, 8)           # non-negative pixels: every conv pre-activation is positive
    cases = [
        (_all_on_mlp(), _batch((32, 6)), F.cross_entropy, "Relu"),
        (DetachedInput(), _batch((32, 6)), F.cross_entropy, "Relu"),
        (_positive_critic(), (images, torch.randn(16, 1)), F.mse_loss, "LeakyRelu"),
        # tiny inputs and no bias before the tanh: it works in its linear range around 0
        (nn.Sequential(nn.Linear(6, 32, bias=False), nn.Tanh(), nn.Linear(32, 3)),
         (1e-3 * torch.randn(32, 6), torch.randint(0, 3, (32,))), F.cross_entropy, "Tanh"),
    ]
    for model, batch, loss_fn, op in cases:
        r = _probe(model, batch, "affine", loss_fn)
        record = _record(r, "affine")
        assert codes(r) == [], (model, [(f.code, f.observation) for f in r.findings])
        # the numbers alone would call it collapsed; the graph says the nonlinearity is there
        assert record["midpoint_deviation"] <= 1e-4 and record["nonlinear_ops"] == [op], record
        assert "idle" in record["note"]


def test_token_inputs_are_not_applicable():
    model = nn.Sequential(nn.Embedding(10, 4), nn.Flatten(), nn.Linear(12, 8), nn.Linear(8, 3))
    r = _probe(model, (torch.randint(0, 10, (16, 3)), torch.randint(0, 3, (16,))), "affine")
    assert codes(r) == [] and _record(r, "affine")["status"] == "skipped"


# ── layout-scrambled ──────────────────────────────────────────────────────────

class ChannelsLastView(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv, self.head = nn.Conv2d(3, 4, 3), nn.Linear(4 * 6 * 6, 3)

    def forward(self, x):                      # x: (B, H, W, C) images
        b, h, w, c = x.shape
        return self.head(F.relu(self.conv(x.view(b, c, h, w))).flatten(1))


class TimeFirstReshape(nn.Module):
    def __init__(self):
        super().__init__()
        self.rnn, self.head = nn.GRU(5, 8), nn.Linear(8, 3)

    def forward(self, x):                      # x: (B, T, F); the GRU wants (T, B, F)
        b, t, f = x.shape
        return self.head(self.rnn(x.reshape(t, b, f))[0][-1])


class HeadsViewed(nn.Module):
    def __init__(self, heads=2):
        super().__init__()
        self.heads, self.qkv, self.head = heads, nn.Linear(8, 24), nn.Linear(8, 3)

    def forward(self, x):                      # (B, T, 8)
        b, t, d = x.shape
        q, k, v = self.qkv(x).view(b, t, self.heads, 3 * d // self.heads).chunk(3, -1)
        q, k, v = (z.view(b, self.heads, t, d // self.heads) for z in (q.contiguous(), k.contiguous(), v.contiguous()))
        y = F.scaled_dot_product_attention(q, k, v).transpose(1, 2).reshape(b, t, d)
        return self.head(y.mean(1))


def test_views_that_reorder_dimensions_are_named_with_their_line():
    torch.manual_seed(0)
    cases = [(ChannelsLastView(), _batch((8, 8, 8, 3))), (TimeFirstReshape(), _batch((8, 6, 5))),
             (HeadsViewed(), _batch((4, 6, 8)))]
    for model, batch in cases:
        r = _probe(model, batch, "view-permutation")
        assert codes(r)[:1] == ["layout-scrambled"], (type(model).__name__, [(f.code, f.observation) for f in r.findings])
        assert r.findings[0].location["file"] == __file__ and r.findings[0].location["line"] > 0


class Flattens(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv, self.head = nn.Conv2d(3, 4, 3), nn.Linear(4 * 6 * 6, 3)

    def forward(self, x):                      # (B, C, H, W); squeezes and flattens only
        y = F.relu(self.conv(x))
        y = y.view(y.shape[0], -1)
        return self.head(y).view(-1, 1, 3).reshape(-1, 3, 1).squeeze(-1)


def test_flattening_splitting_heads_and_torch_internals_are_not_named():
    torch.manual_seed(0)
    split_heads = HeadsViewed()
    # heads split off and merged back, each moved next to its own time step first
    split_heads.forward = lambda x: split_heads.head(
        x.view(*x.shape[:2], 2, 4).transpose(1, 2).softmax(-1).transpose(1, 2).reshape(x.shape).mean(1))
    cases = [(Flattens(), _batch((8, 3, 8, 8))), (PostNormProjection(), _batch((8, 5, 6))),
             (split_heads, _batch((4, 6, 8))),
             (nn.TransformerEncoder(nn.TransformerEncoderLayer(8, 2, 16), 1), (torch.randn(6, 4, 8), torch.randn(6, 4, 8)))]
    for model, batch in cases:
        loss = F.mse_loss if isinstance(model, nn.TransformerEncoder) else F.cross_entropy
        r = _probe(model, batch, "view-permutation", loss)
        assert codes(r) == [], (type(model).__name__, [(f.code, f.observation) for f in r.findings])
        assert _record(r, "view-permutation")["status"] == "ran"


def _images(n, h, w, c, seed=0):
    """Channels-last images with spatial structure: a vertical gradient per channel and a bright square."""
    g = torch.Generator().manual_seed(seed)
    rows = torch.linspace(0, 1, h).view(1, h, 1, 1)
    x = rows * torch.rand(n, 1, 1, c, generator=g) + 0.1 * torch.randn(n, h, w, c, generator=g)
    for i in range(n):
        r, k = torch.randint(0, h - 4, (2,), generator=g).tolist()[0], torch.randint(0, w - 4, (1,), generator=g).item()
        x[i, r:r + 4, k:k + 4] += torch.rand(c, generator=g)
    return x, torch.randint(0, 3, (n,), generator=g)


class SmallCNN(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.conv, self.head = nn.Conv2d(c, 4, 3, padding=1), nn.Linear(4, 3)

    def forward(self, x):
        return self.head(F.relu(self.conv(x)).mean((2, 3)))


def test_images_scrambled_before_the_model_are_named_from_their_pixels():
    """No view in the forward: the layout was broken before it (as a numpy reshape would), non-square too,
    and with a mean of its own per channel."""
    for n, h, w, c, offset in [(16, 12, 12, 3, 0), (16, 14, 10, 3, 0), (16, 10, 14, 4, 0), (16, 12, 12, 2, 0),
                               (16, 14, 10, 3, 1), (16, 10, 14, 4, 1)]:
        x, y = _images(n, h, w, c)
        x = x + offset * torch.tensor([2.0, -1.0, 0.5, 1.0][:c])
        r = _probe(SmallCNN(c), (x.reshape(n, c, h, w), y), "view-permutation")
        assert codes(r) == ["layout-scrambled"], ((h, w, c), _record(r, "view-permutation"))
        assert "channels-last" in r.findings[0].observation


def test_images_in_their_layout_noise_and_one_channel_are_not_named():
    x, y = _images(16, 14, 10, 3)
    gray, _ = _images(16, 14, 10, 1)
    noise = torch.randn(16, 3, 12, 12, generator=torch.Generator().manual_seed(1))
    cases = [(SmallCNN(3), x.permute(0, 3, 1, 2)),        # permuted: right
             (SmallCNN(1), gray.view(16, 1, 14, 10)),       # one channel: a view moves no element
             (SmallCNN(3), noise)]                          # no spatial structure: nothing to judge by
    for model, images in cases:
        r = _probe(model, (images, y), "view-permutation")
        assert codes(r) == [], [(f.code, f.observation) for f in r.findings]


def test_noise_images_with_a_mean_per_channel_are_not_named():
    """Read as channels-last memory, such images are bands, one channel each: neighbours share a band, pixels
    across the image do not, yet within a band a pixel is no more like its neighbour than like one further off."""
    g = torch.Generator().manual_seed(1)
    for n, c, h, w in [(16, 3, 16, 16), (16, 4, 20, 12), (16, 2, 8, 24)]:
        y = torch.randint(0, 3, (n,), generator=g)
        images = 3 * torch.randn(3, c, 1, 1, generator=g)[y] + torch.randn(n, c, h, w, generator=g)
        r = _probe(SmallCNN(c), (images, y), "view-permutation")
        assert codes(r) == [], [(f.code, f.observation) for f in r.findings]
        pixels = _record(r, "view-permutation")["pixels"]
        assert max(pixels["channels_last_local"]) > 0.9, pixels  # across the bands: noise
