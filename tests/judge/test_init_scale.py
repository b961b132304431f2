"""An initialisation whose scale vanishes the signal, and its consequences read as causes: vanishing gradients
across depth from the recorded per-module gradients (judge/depth.py), a saturation forecast confirmed by a
finding it explains, an explosion within the first steps, and a non-finite born in the model's forward."""
from types import SimpleNamespace

import pytest
import torch
from torch import nn

from traindoctor.judge import depth
from traindoctor.judge.probes import forecast_confirmed, saturated_activations
from traindoctor.judge.recording import _born_in_model
from traindoctor.judge.steps import StepRules
from traindoctor.vocabulary.finding import finding

STUCK = "the loss does not fall"


def deep_gelu(std, residual=False):
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = nn.Embedding(30, 16)
            self.layers = nn.ModuleList(nn.Linear(16, 16) for _ in range(6))
            self.norms = nn.ModuleList(nn.LayerNorm(16) for _ in range(6)) if residual else None
            self.out = nn.Linear(16, 1)

        def forward(self, x):
            h = self.emb(x).mean(1)
            for i, lin in enumerate(self.layers):
                h = h + lin(self.norms[i](h)) if residual else nn.functional.gelu(lin(h))
            return self.out(h).squeeze(1)
    net = Net()
    for m in net.modules():
        if isinstance(m, (nn.Linear, nn.Embedding)):
            nn.init.normal_(m.weight, 0.0, std)
    return net, lambda n: torch.randint(0, 30, (n, 4))


def tanh_cnn(fan_in_power):
    net = nn.Sequential(nn.Conv2d(1, 6, 5), nn.Tanh(), nn.Conv2d(6, 16, 5), nn.Tanh(), nn.Flatten(),
                        nn.Linear(16 * 4 * 4, 64), nn.Tanh(), nn.Linear(64, 32), nn.Tanh(), nn.Linear(32, 1))
    for m in net.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            nn.init.normal_(m.weight, 0.0, m.weight[0].numel() ** -fan_in_power)
            nn.init.zeros_(m.bias)
    return net, lambda n: torch.randn(n, 1, 12, 12)


def tanh_mlp(std):
    net = nn.Sequential(*[m for _ in range(5) for m in (nn.Linear(24, 24), nn.Tanh())], nn.Linear(24, 1))
    for m in net.modules():
        if isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, 0.0, std)
    return net, lambda n: torch.randn(n, 24)


def recorded(build, opt="sgd", steps=12):
    """A recorder's view of a short run: the model, its start, and per-module gradient norms per step."""
    torch.manual_seed(0)
    net, batch = build()
    start = {k: v.detach().clone() for k, v in net.state_dict().items()}
    optimizer = (torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.9) if opt == "sgd"
                 else torch.optim.Adam(net.parameters(), lr=1e-3))
    records = []
    for _ in range(steps):
        x = batch(32)
        loss = nn.functional.mse_loss(net(x).reshape(-1), torch.randn(32))
        optimizer.zero_grad()
        loss.backward()
        by_module = {}
        for name, p in net.named_parameters():
            owner = name.rpartition(".")[0] or "<root>"
            by_module[owner] = (by_module.get(owner, 0.0) ** 2 + float(p.grad.norm()) ** 2) ** 0.5
        optimizer.step()
        records.append({"optimizer": 0, "grad_norm_by_module": by_module})
    opt_state = SimpleNamespace(index=0, params=lambda: list(net.parameters()))
    return SimpleNamespace(roots={1: SimpleNamespace(module=net, grad_calls=steps)}, nonfinite=None,
                           initial_states={id(net): start}, optimizers={0: opt_state}, records=records, source="run")


@pytest.mark.parametrize("build", [
    lambda: deep_gelu(0.02),  # BERT's 0.02 on a stack without residuals or normalization
    lambda: tanh_cnn(1.25),  # std fan_in^-1.25 for fan_in^-0.5
    lambda: tanh_mlp(0.03),
], ids=["gelu-mlp-0.02", "tanh-cnn-small", "tanh-mlp-0.03"])
def test_a_signal_that_vanishes_across_depth_is_named_at_the_first_layer(build, monkeypatch):
    monkeypatch.setattr(depth, "why_not_learning", lambda rec: STUCK)
    found, = depth.check(recorded(build))
    assert found.code == "vanishing-gradients" and found.severity == "error"
    assert found.evidence["first_last_ratio"] < 1e-4 and STUCK in found.observation


@pytest.mark.parametrize("build, opt, stuck", [
    (lambda: deep_gelu(0.02, residual=True), "sgd", STUCK),  # GPT-style: residual path and LayerNorm
    (lambda: tanh_cnn(0.5), "sgd", STUCK),  # LeCun's fan-in scale
    (lambda: deep_gelu(0.02), "adam", STUCK),  # Adam moves the first layer anyway: no consequence
    (lambda: deep_gelu(0.02), "sgd", None),  # the loss learns
], ids=["residual-layernorm", "fan-in-init", "adam", "learning"])
def test_healthy_or_harmless_small_gradients_stay_quiet(build, opt, stuck, monkeypatch):
    monkeypatch.setattr(depth, "why_not_learning", lambda rec: stuck)
    assert depth.check(recorded(build, opt)) == []


def pinned_at_start():
    layers = {"1": {"kind": "tanh", "saturated_fraction": 0.7, "at_start": 0.7}}
    return saturated_activations(layers, trained=True)


@pytest.mark.parametrize("other, severity", [
    ("init-loss-mismatch", "warning"),  # a head fed by pinned units starts far from chance
    ("vanishing-gradients", "warning"),
    ("batch-mixing", "info"),  # nothing saturation explains
    (None, "info"),
])
def test_a_saturation_forecast_is_the_cause_once_its_consequence_is_found(other, severity):
    found = [pinned_at_start()] + ([finding(other, "seen", "run")] if other else [])
    sat = forecast_confirmed(found)[0]
    assert sat.severity == severity
    assert (bool(other) and other in sat.observation) == (severity == "warning")


def norms(*values):
    rules = StepRules("run")
    return [f.code for v in values for f in rules.observe({"step": 0, "loss": 1.0, "grad_norm": v})]


def test_an_explosion_within_the_first_steps_is_judged_against_the_norms_before_it():
    assert "exploding-gradients" in norms(118, 129, 207, 3.6e6, 0.0)
    assert "exploding-gradients" not in norms(118, 129, 207, 5e4, 0.0)  # 240x: drift, not explosion
    assert "exploding-gradients" not in norms(0.0, 0.0, 0.0, 5.0, 5.0)  # a zero-initialised start has no scale
    assert "exploding-gradients" not in norms(118, 3.6e6, 207, 150)  # one earlier norm is no baseline


@pytest.mark.parametrize("in_loss, at_nonfinite, explained", [
    (False, True, True),  # exp overflow in the model: the loss's negative values are its floor
    (True, True, False),  # born in the loss: it may have run to -inf
    (False, False, False),  # the loss fell far below its start for several records first
])
def test_a_nonfinite_born_in_the_model_explains_a_fall_read_from_it(in_loss, at_nonfinite, explained):
    nan = finding("nonfinite-forward", "exp overflowed", "run", evidence={"function": {"name": "exp", "in_loss": in_loss}})
    flipped = finding("loss-sign-flipped", "fell below zero and turned nan", "run",
                      evidence={"at_nonfinite": at_nonfinite})
    _born_in_model([flipped, nan])
    assert ("loss-sign-flipped" in nan.evidence.get("explains", ())) == explained
