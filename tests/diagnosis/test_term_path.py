"""Is the path to one term of the loss cut? A head reading its trunk's output past a cut (`.detach()`, `.data`,
torch.no_grad(), a rounding) while another term trains the trunk is found, with the cut and the layer that
reads past it; the same model without the cut, and a cut tensor read as a weight of the term (an advantage),
are not."""
import numpy as np
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from traindoctor.diagnosis import term_path
from traindoctor.diagnosis.loss_terms import _tape
from traindoctor.judge.gradient_path import judge_terms


class TwoHeads(nn.Module):
    """A trunk, a reconstruction head and a classifier; `how` cuts (or not) the classifier's input."""

    def __init__(self, how: str):
        super().__init__()
        self.how = how
        self.trunk = nn.Sequential(nn.Linear(6, 16), nn.Tanh())
        self.recon = nn.Linear(16, 6)
        self.cls = nn.Sequential(nn.Linear(16, 8), nn.ReLU(), nn.Linear(8, 3))

    def forward(self, x):
        h = self.trunk(x)
        if self.how == "no_grad":
            with torch.no_grad():
                c = h * 1.0
        else:
            c = {"detach": h.detach, "data": lambda: h.data, "round": lambda: torch.round(h * 4) / 4,
                 "none": lambda: h}[self.how]()
        return self.recon(h), self.cls(c)


def _joint(out, targets):
    x, y = targets
    return F.mse_loss(out[0], x) + F.cross_entropy(out[1], y)


def _measure(model, x, loss, targets):
    tape = _tape(model, x, targets, loss)
    return term_path.measure(model, tape, [n for n, _ in model.named_parameters()])


@pytest.mark.parametrize("how", ["detach", "data", "no_grad", "round"])
def test_a_head_cut_from_its_trunk_is_found_with_the_cut_and_its_layer(how):
    torch.manual_seed(0)
    model, x, y = TwoHeads(how), torch.randn(32, 6), torch.randint(0, 3, (32,))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    measured = _measure(model, x, _joint, (x, y))
    assert [m["term"] for m in measured] == ["cross_entropy"]
    m = measured[0]
    assert set(m["moved"]) == {"trunk.0.weight", "trunk.0.bias"}
    assert m["reader"]["call"] == "linear" and m["cuts"][0]["file"] == __file__
    found, observations = judge_terms(measured, "run", "error", [])
    assert [f.code for f in found] == ["graph-break"] and found[0].evidence["term"] == "cross_entropy"
    assert observations[0]["keeps"]
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())  # the moves are put back


def test_a_connected_head_is_not_measured():
    torch.manual_seed(0)
    model, x, y = TwoHeads("none"), torch.randn(32, 6), torch.randint(0, 3, (32,))
    assert _measure(model, x, _joint, (x, y)) == []


class ActorCritic(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(4, 16), nn.Tanh())
        self.pi, self.v = nn.Linear(16, 2), nn.Linear(16, 1)

    def forward(self, s):
        h = self.body(s)
        return self.pi(h), self.v(h).squeeze(-1)


def test_a_cut_read_as_a_weight_of_the_term_is_not_followed():
    """The actor's term depends on the critic's head through `advantage.detach()`, which gets no gradient from
    it — but the cut tensor only weighs log-probabilities: no layer of the actor's term reads it."""
    torch.manual_seed(0)
    s, a, ret = torch.randn(32, 4), torch.randint(0, 2, (32,)), torch.randn(32)

    def loss(out, targets):
        logits, value = out
        logp = F.log_softmax(logits, -1).gather(1, targets[0][:, None]).squeeze(1)
        advantage = targets[1] - value
        return -(logp * advantage.detach()).mean() + 0.5 * advantage.pow(2).mean()

    assert _measure(ActorCritic(), s, loss, (a, ret)) == []


def test_a_single_term_loss_is_left_to_the_total_loss_experiment():
    torch.manual_seed(0)
    model, x, y = TwoHeads("detach"), torch.randn(32, 6), torch.randint(0, 3, (32,))
    assert _measure(model, x, lambda out, t: F.cross_entropy(out[1], t), y) == []


def test_a_cut_the_total_loss_already_names_is_not_named_twice():
    torch.manual_seed(0)
    model, x, y = TwoHeads("detach"), torch.randn(32, 6), torch.randint(0, 3, (32,))
    measured = _measure(model, x, _joint, (x, y))
    total = judge_terms(measured, "run", "error", [])[0]  # stands in for the total loss's finding at the same cut
    assert judge_terms(measured, "run", "error", total)[0] == []


class Encoder(nn.Module):
    """A VAE's encoder alone: the decoder is kept apart, and the latent is drawn in the loss."""

    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(6, 16), nn.Tanh(), nn.Linear(16, 4))

    def forward(self, x):
        mu, raw = self.body(x).chunk(2, -1)
        return mu, F.softplus(raw) + 1e-3


@pytest.mark.parametrize("draw", ["sample", "rsample"])
def test_a_decoder_outside_the_model_reading_a_sample_cuts_the_reconstruction(draw):
    """The reconstruction term reaches the encoder only through `sample()` (no gradient) and a decoder the
    tape holds as values; the KL term trains the encoder. With `rsample()` the path is whole."""
    torch.manual_seed(0)
    decoder = nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Linear(16, 6))
    x = torch.randn(64, 6)

    def loss(out, target):
        posterior = torch.distributions.Independent(torch.distributions.Normal(*out), 1)
        prior = torch.distributions.Independent(torch.distributions.Normal(torch.zeros(2), torch.ones(2)), 1)
        z = getattr(posterior, draw)()
        return F.mse_loss(decoder(z), target) + torch.distributions.kl_divergence(posterior, prior).mean()

    measured = _measure(Encoder(), x, loss, x)
    if draw == "rsample":
        assert measured == []
        return
    assert [m["term"] for m in measured] == ["mse_loss"]
    m = measured[0]
    assert m["reader"]["call"] == "linear" and set(m["moved"]) == {n for n, _ in Encoder().named_parameters()}
    assert m["cuts"][0]["call"] == "normal" and m["cuts"][0]["file"] == __file__
    assert [f.code for f in judge_terms(measured, "run", "error", [])[0]] == ["graph-break"]


def test_a_codebook_outside_the_model_read_as_a_target_is_not_followed():
    """A VQ codebook kept apart: its term compares `z.detach()` with the chosen entries — no layer reads the cut
    tensor, and the argmin's index only chooses among the codebook's rows."""
    torch.manual_seed(0)
    codebook = nn.Parameter(torch.randn(8, 4))
    head = nn.Linear(4, 6)
    x = torch.randn(32, 6)

    def loss(z, target):
        idx = torch.cdist(z.detach(), codebook).argmin(-1)
        e = codebook[idx]
        quantised = z + (e - z).detach()  # straight through
        return F.mse_loss(head(quantised), target) + F.mse_loss(e, z.detach()) + 0.25 * F.mse_loss(z, e.detach())

    assert _measure(nn.Sequential(nn.Linear(6, 4)), x, loss, x) == []


class NumpyRoundTrip(nn.Module):
    """A representation sent through numpy and back inside forward; `shape` picks the architecture and how it
    comes back. Two terms: the one whose layer reads what came back, and one on the encoder's output itself."""

    def __init__(self, shape: str):
        super().__init__()
        self.shape = shape
        if shape == "gru":  # time-first sequences
            self.enc, self.dec = nn.GRU(2, 12), nn.Linear(12, 2)
        elif shape == "conv":  # images
            self.enc = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.Tanh(), nn.Flatten(), nn.Linear(256, 12))
            self.dec = nn.Linear(6, 64)
        else:
            self.enc, self.dec = nn.Sequential(nn.Linear(6, 12), nn.Tanh()), nn.Linear(12, 6)

    def forward(self, x):
        if self.shape == "gru":
            _, h = self.enc(x)
            h = h[0]
            back = torch.from_numpy(np.tanh(h.detach().numpy()))  # from_numpy: not a torch call
        elif self.shape == "conv":
            h = self.enc(x)
            mu, logvar = h.chunk(2, -1)
            draw = np.random.default_rng(0).normal(mu.detach().numpy(), np.exp(0.5 * logvar.detach().numpy()))
            back = torch.as_tensor(draw, dtype=torch.float32)  # a torch call that reads an array
        else:
            h = self.enc(x)
            back = torch.tensor(h.detach().numpy() * 2)
        return self.dec(back), h


def _numpy_batch(shape):
    torch.manual_seed(0)
    x = {"gru": torch.randn(7, 16, 2), "conv": torch.randn(16, 1, 8, 8), "mlp": torch.randn(16, 6)}[shape]
    target = x[-1] if shape == "gru" else x.flatten(1)
    return x, target


@pytest.mark.parametrize("shape", ["gru", "conv", "mlp"])
def test_a_representation_back_from_numpy_is_still_past_the_cut(shape):
    """numpy's arithmetic and torch.from_numpy are out of sight: what comes back after a cut value left for numpy
    is taken as derived from that cut, and the experiment confirms the term depends on the encoder."""
    model = NumpyRoundTrip(shape)
    x, target = _numpy_batch(shape)
    measured = _measure(model, x, lambda out, t: F.mse_loss(out[0], t) + 1e-2 * out[1].pow(2).mean(), target)
    assert [m["term"] for m in measured] == ["mse_loss"]
    m = measured[0]
    assert m["reader"]["call"] == "linear" and all(n.startswith("enc.") for n in m["moved"])
    assert [f.code for f in judge_terms(measured, "run", "error", [])[0]] == ["graph-break"]


def test_numpy_for_a_log_or_a_target_is_not_followed():
    """A value sent to numpy to be logged while the layer reads the live tensor; and one that comes back only as
    the target of a term (a stop-gradient on purpose)."""
    class Logged(NumpyRoundTrip):
        def forward(self, x):
            h = self.enc(x)
            self.seen = h.detach().numpy().mean()
            return self.dec(h), h, torch.from_numpy(h.detach().numpy().copy())

    x, target = _numpy_batch("mlp")
    assert _measure(Logged("mlp"), x, lambda out, t: F.mse_loss(out[0], t) + 1e-2 * out[1].pow(2).mean(), target) == []
    # the returned copy as the target of a second term: no layer of that term reads it
    assert _measure(Logged("mlp"), x, lambda out, t: F.mse_loss(out[0], t) + F.mse_loss(out[1], out[2]), target) == []
