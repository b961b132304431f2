"""symmetric-units on weights outside any module's parameters (plain tensors made with requires_grad=True,
in locals, dicts or a module's plain attributes): units that started as exact copies and that training moved
alike are named, whichever dimension holds them; zero-initialised tensors whose units each get their own
gradient (a zero last layer, a LoRA B matrix) and tensors without units (an added position table) are not.
Recorded in-process under run's hooks."""
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from traindoctor.judge import alike
from traindoctor.measure.alike import units_dim
from traindoctor.measure.hooks import installed
from traindoctor.measure.recorder import Recorder


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


X = torch.linspace(-3, 3, 256, dtype=torch.float32).unsqueeze(1)
Y = torch.sin(2 * X)
C = torch.randn(256, 6, generator=gen())
LABELS = (C[:, 0] > 0).long() + (C[:, 1] > 0).long()


def leaf(t):
    return t.requires_grad_()


def fit(params, forward, loss, steps=40, opt=torch.optim.Adam, lr=1e-2):
    optimizer = opt(params, lr=lr)
    for _ in range(steps):
        optimizer.zero_grad()
        loss(forward()).backward()
        optimizer.step()


def symmetric(train):
    rec = Recorder(max_steps=0)
    with installed(rec):
        train()
    return [f for f in alike.check(rec) if f.code == "symmetric-units"]


# ── broken ────────────────────────────────────────────────────────────────────────────────────────
def zeros_tanh_mlp():
    """Every matrix made with torch.zeros: only the output bias ever gets a gradient."""
    w1, w2, w3 = leaf(torch.zeros(1, 24)), leaf(torch.zeros(24, 24)), leaf(torch.zeros(24, 1))
    b1, b2, b3 = leaf(torch.zeros(24)), leaf(torch.zeros(24)), leaf(torch.zeros(1))
    fit([w1, b1, w2, b2, w3, b3], lambda: torch.tanh(torch.tanh(X @ w1 + b1) @ w2 + b2) @ w3 + b3,
        lambda out: F.mse_loss(out, Y))


def constant_dict_relu():
    """F.linear on a dict of tensors filled with 0.1, SGD: the units move, but as one."""
    p = {"w1": leaf(torch.full((16, 6), 0.1)), "w2": leaf(torch.full((16, 16), 0.1)),
         "w3": leaf(torch.full((3, 16), 0.1))}
    fit(list(p.values()), lambda: F.linear(F.relu(F.linear(F.relu(F.linear(C, p["w1"])), p["w2"])), p["w3"]),
        lambda out: F.cross_entropy(out, LABELS), opt=torch.optim.SGD, lr=0.05)


class PlainAttributes(nn.Module):
    """Weights kept as plain tensors, not nn.Parameter: the module has no parameters of its own."""
    def __init__(self):
        super().__init__()
        self.w1, self.w2 = leaf(torch.full((6, 32), 0.02)), leaf(torch.full((32, 3), 0.02))

    def forward(self, x):
        return torch.tanh(x @ self.w1) @ self.w2


def plain_attributes():
    model = PlainAttributes()
    fit([model.w1, model.w2], lambda: model(C), lambda out: F.cross_entropy(out, LABELS))


BROKEN = {"zeros-tanh-mlp": zeros_tanh_mlp, "constant-dict-relu": constant_dict_relu,
          "plain-attributes": plain_attributes}


@pytest.mark.parametrize("name", BROKEN)
def test_plain_tensors_whose_units_stay_copies_are_named(name):
    found = symmetric(BROKEN[name])
    assert found, name
    assert found[0].evidence["spread"] and max(found[0].evidence["spread"].values()) <= 0.5


# ── healthy look-alikes ───────────────────────────────────────────────────────────────────────────
def zero_last_layer():
    """Random hidden weights, zero biases and a zero last layer: each hidden unit feeds it its own value."""
    torch.manual_seed(0)
    w1, w2, w3 = leaf(torch.randn(1, 24)), leaf(torch.randn(24, 24) / 24 ** 0.5), leaf(torch.zeros(24, 1))
    b1, b2, b3 = leaf(torch.zeros(24)), leaf(torch.zeros(24)), leaf(torch.zeros(1))
    fit([w1, b1, w2, b2, w3, b3], lambda: torch.tanh(torch.tanh(X @ w1 + b1) @ w2 + b2) @ w3 + b3,
        lambda out: F.mse_loss(out, Y))


def lora_and_position_table():
    """A frozen random base with a LoRA pair (A random, B zero), and a zero position table added to the
    inputs of a mean-pooled model, whose positions move nearly alike: added, it has no units."""
    torch.manual_seed(0)
    seqs = torch.randn(128, 5, 6, generator=gen(1))
    labels = (seqs.sum(1)[:, 0] > 0).long()
    base, a, b = torch.randn(12, 6) / 6 ** 0.5, leaf(torch.randn(4, 6) / 6 ** 0.5), leaf(torch.zeros(12, 4))
    pos, head = leaf(torch.zeros(5, 6)), leaf(torch.randn(2, 12) / 12 ** 0.5)

    def forward():
        v = seqs + pos
        return F.relu(v @ base.T + v @ a.T @ b.T).mean(1) @ head.T
    fit([a, b, pos, head], forward, lambda out: F.cross_entropy(out, labels))


HEALTHY = {"zero-last-layer": zero_last_layer, "lora-and-position-table": lora_and_position_table}


@pytest.mark.parametrize("name", HEALTHY)
def test_zero_tensors_whose_units_get_their_own_gradient_are_quiet(name):
    assert not symmetric(HEALTHY[name]), name


# ── torch's own layers in a model the probes do not see (a flow's later coupling layers, a second model) ──
class Coupling(nn.Module):
    """An affine coupling layer whose scale-and-shift net starts at zero (the identity map), as flows do."""
    def __init__(self, mask):
        super().__init__()
        self.register_buffer("mask", mask)
        self.net = nn.Sequential(nn.Linear(2, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 4))
        nn.init.zeros_(self.net[-1].weight)
        nn.init.zeros_(self.net[-1].bias)

    def forward(self, x):
        scale, shift = self.net(x * self.mask).chunk(2, 1)
        scale = torch.tanh(scale) * (1 - self.mask)
        return x * self.mask + (1 - self.mask) * (x * scale.exp() + shift * (1 - self.mask)), scale.sum(1)


def zero_initialised_couplings():
    """Each coupling's zero head: its 64 columns (one per input) start equal and move nearly alike (4 outputs),
    but a Linear's units are its outputs, and each gets its own error."""
    torch.manual_seed(0)
    layers = nn.ModuleList(Coupling(torch.tensor([1.0, 0.0] if i % 2 == 0 else [0.0, 1.0])) for i in range(4))
    t, side = torch.rand(256, generator=gen(2)) * 3.14, torch.randint(0, 2, (256,), generator=gen(3)).float()
    moons = torch.stack([t.cos() + side - 0.5, t.sin() * (1 - 2 * side) + 0.3 * side], 1)

    def nll():
        x, logdet = moons, torch.zeros(len(moons))
        for layer in layers:
            x, d = layer(x)
            logdet = logdet + d
        return (0.5 * (x ** 2).sum(1) - logdet).mean()
    fit(list(layers.parameters()), nll, lambda loss: loss, steps=60, lr=1e-3)


def constant_layers_in_a_second_model():
    """A second model whose layers were filled with a constant: its hidden units (rows) stay copies."""
    torch.manual_seed(0)
    main = nn.Sequential(nn.Linear(6, 128), nn.ReLU(), nn.Linear(128, 3))
    second = nn.Sequential(nn.Linear(6, 16), nn.Tanh(), nn.Linear(16, 3))
    for layer in (second[0], second[2]):
        nn.init.constant_(layer.weight, 0.05)
    fit([*main.parameters(), *second.parameters()], lambda: main(C) + second(C),
        lambda out: F.cross_entropy(out, LABELS))


def zero_value_head_in_a_second_model():
    """A critic's zero-initialised value head (one output): its 64 columns start equal, and ReLU features of one
    sign move them alike, but its one unit is its output."""
    torch.manual_seed(0)
    main = nn.Sequential(nn.Linear(6, 128), nn.ReLU(), nn.Linear(128, 3))
    critic = nn.Sequential(nn.Linear(6, 64), nn.ReLU(), nn.Linear(64, 1))
    nn.init.zeros_(critic[-1].weight)
    value = C[:, :2].sum(1, keepdim=True)
    fit([*main.parameters(), *critic.parameters()], lambda: (main(C), critic(C)),
        lambda out: F.cross_entropy(out[0], LABELS) + F.mse_loss(out[1], value))


def test_a_layers_units_lie_where_its_layout_puts_them():
    assert not symmetric(zero_initialised_couplings)
    assert not symmetric(zero_value_head_in_a_second_model)
    found = symmetric(constant_layers_in_a_second_model)
    assert found and "(dim 0)" in found[0].observation, found


def test_the_units_of_torchs_own_layers_are_known_and_a_user_modules_matrices_are_not():
    class Own(nn.Module):
        def __init__(self):
            super().__init__()
            self.w = nn.Parameter(torch.zeros(4, 4))
    model = nn.Sequential(nn.Linear(3, 4), nn.Conv2d(1, 2, 3), nn.ConvTranspose2d(2, 5, 3), nn.Embedding(7, 4), Own())
    known = units_dim([model])
    assert [known.get(id(m.weight if not isinstance(m, Own) else m.w)) for m in model] == [0, 0, 1, 1, None]
