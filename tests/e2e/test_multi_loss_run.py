"""`traindoctor run`, default configuration: a loss that is a sum of terms is split into them (from the loss
computation on tape), and each term's gradient on the shared weights is compared at the initial and the final
weights. A term drowned by orders of magnitude, a task displaced by a penalty that steers the update, and terms
that cancel from the start, are named; deliberate weightings (a small auxiliary weight, a VAE's KL, an entropy
bonus, L2 written into the loss, a light penalty on the outputs) are not."""
import pytest

from conftest import codes

PRELUDE = """
import torch, torch.nn as nn, torch.nn.functional as F
torch.manual_seed(0)
"""

TWO_HEADS = """
x = torch.randn(512, 8); label = (x[:, 0] > 0).long(); price = PRICE
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.trunk = nn.Sequential(nn.Linear(8, 32), nn.ReLU()); self.cls = nn.Linear(32, 2); self.reg = nn.Linear(32, 1)
    def forward(self, x):
        h = self.trunk(x); return self.cls(h), self.reg(h).squeeze(-1)
net = Net(); opt = torch.optim.Adam(net.parameters(), lr=1e-3)
for step in range(60):
    i = (step * 32) % 512
    logits, pred = net(x[i:i + 32])
    loss = F.mse_loss(pred, price[i:i + 32]) + WEIGHT * F.cross_entropy(logits, label[i:i + 32])
    opt.zero_grad(); loss.backward(); opt.step()
"""

IMBALANCED = {
    "regression-in-dollars-beside-a-cross-entropy": TWO_HEADS.replace("PRICE", "3000 * x[:, 1] + 5000").replace("WEIGHT", "1.0"),
    "reconstruction-summed-over-pixels-beside-a-mean-classification": """
img = torch.rand(256, 1, 28, 28); digit = torch.randint(0, 10, (256,))
enc = nn.Sequential(nn.Flatten(), nn.Linear(784, 64), nn.ReLU()); dec = nn.Linear(64, 784); cls = nn.Linear(64, 10)
class AE(nn.Module):
    def __init__(self):
        super().__init__(); self.enc, self.dec, self.cls = enc, dec, cls
    def forward(self, x):
        z = self.enc(x); return self.dec(z).view(-1, 1, 28, 28), self.cls(z)
ae = AE(); opt = torch.optim.SGD(ae.parameters(), lr=1e-5)
for step in range(60):
    i = (step * 64) % 256
    rec, logits = ae(img[i:i + 64])
    loss = F.mse_loss(rec, img[i:i + 64], reduction="sum") + F.cross_entropy(logits, digit[i:i + 64]) / 100
    opt.zero_grad(); loss.backward(); opt.step()
""",
}

CONFLICTING = {
    "a-term-subtracted-that-should-be-added": """
x = torch.randn(512, 6); y = x[:, :2].sum(1, keepdim=True)
net = nn.Sequential(nn.Linear(6, 32), nn.Tanh(), nn.Linear(32, 1)); opt = torch.optim.Adam(net.parameters(), lr=1e-3)
for step in range(60):
    i = (step * 32) % 512
    out = net(x[i:i + 32])
    loss = F.mse_loss(out, y[i:i + 32]) - 0.8 * F.mse_loss(out, y[i:i + 32] + 0.05)
    opt.zero_grad(); loss.backward(); opt.step()
""",
    "the-same-labels-with-two-signs": """
x = torch.randn(512, 10); y = (x[:, 0] > 0).long()
net = nn.Sequential(nn.Linear(10, 32), nn.ReLU(), nn.Linear(32, 2)); opt = torch.optim.SGD(net.parameters(), lr=0.1)
for step in range(60):
    i = (step * 32) % 512
    logits = net(x[i:i + 32])
    loss = F.cross_entropy(logits, y[i:i + 32]) + F.cross_entropy(logits, 1 - y[i:i + 32])
    opt.zero_grad(); loss.backward(); opt.step()
""",
}

# A penalty on the outputs (a term that reads no target) weighted so that it steers the update: it falls to
# nothing while the task, a term that reads the targets, does not learn.
GRU_SPARSITY = """
x_all = torch.randn(1024, 12, 4); y_all = x_all[:, :, 0].cumsum(1)[:, -1:] * 0.3
class Reg(nn.Module):
    def __init__(self):
        super().__init__(); self.rnn = nn.GRU(4, 32, batch_first=True); self.head = nn.Linear(32, 1)
    def forward(self, x):
        h, _ = self.rnn(x); return self.head(h[:, -1]), h
model = Reg(); opt = torch.optim.Adam(model.parameters(), lr=2e-3)
for step in range(160):
    i = (step * 64) % 1024
    pred, h = model(x_all[i:i + 64])
    loss = F.mse_loss(pred, y_all[i:i + 64]) + WEIGHT * h.abs().mean()
    opt.zero_grad(); loss.backward(); opt.step()
"""
VAE_BETA = """
basis = torch.randn(4, 32); data = torch.sigmoid(torch.randn(1024, 4) @ basis)
class VAE(nn.Module):
    def __init__(self):
        super().__init__()
        self.enc = nn.Sequential(nn.Linear(32, 64), nn.ReLU(), nn.Linear(64, 8))
        self.dec = nn.Sequential(nn.Linear(4, 64), nn.ReLU(), nn.Linear(64, 32))
    def forward(self, x):
        mu, logvar = self.enc(x).chunk(2, dim=1)
        return self.dec(mu + torch.randn_like(mu) * (0.5 * logvar).exp()), mu, logvar
vae = VAE(); opt = torch.optim.Adam(vae.parameters(), lr=1e-3)
for step in range(160):
    x = data[(step * 64) % 1024:(step * 64) % 1024 + 64]
    logits, mu, logvar = vae(x)
    rec = F.binary_cross_entropy_with_logits(logits, x, reduction="sum") / len(x)
    kl = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp()) / len(x)
    loss = rec + WEIGHT * kl
    opt.zero_grad(); loss.backward(); opt.step()
"""
SIGNAL_SMOOTHNESS = """
t = torch.linspace(0, 6.28, 64); clean = torch.sin(t[None] * torch.randint(1, 4, (512, 1)) + torch.rand(512, 1) * 6)
noisy = clean + 0.3 * torch.randn_like(clean)
net = nn.Sequential(nn.Conv1d(1, 16, 5, padding=2), nn.ReLU(), nn.Conv1d(16, 1, 5, padding=2))
opt = torch.optim.Adam(net.parameters(), lr=3e-3)
for step in range(160):
    i = (step * 32) % 512
    out = net(noisy[i:i + 32, None])
    smooth = (out[..., 1:] - out[..., :-1]).abs().mean()
    loss = F.mse_loss(out, clean[i:i + 32, None]) + WEIGHT * smooth
    opt.zero_grad(); loss.backward(); opt.step()
"""
DISPLACED = {
    "gru-activation-sparsity-x1000": GRU_SPARSITY.replace("WEIGHT", "1000"),
    "vae-kl-weighted-300": VAE_BETA.replace("WEIGHT", "300"),
    "denoiser-output-smoothness-x300": SIGNAL_SMOOTHNESS.replace("WEIGHT", "300"),
}

HEALTHY = {
    "gru-activation-sparsity-x0.001": GRU_SPARSITY.replace("WEIGHT", "0.001"),
    "vae-kl-weighted-1": VAE_BETA.replace("WEIGHT", "1.0"),
    "denoiser-output-smoothness-x0.01": SIGNAL_SMOOTHNESS.replace("WEIGHT", "0.01"),
    "balanced-two-heads": TWO_HEADS.replace("PRICE", "x[:, 1] * 2").replace("WEIGHT", "1.0"),
    "aligned-terms": """
x = torch.randn(512, 6); y = x[:, :2].sum(1, keepdim=True)
net = nn.Sequential(nn.Linear(6, 32), nn.Tanh(), nn.Linear(32, 1)); opt = torch.optim.Adam(net.parameters(), lr=1e-2)
for step in range(60):
    i = (step * 32) % 512
    out = net(x[i:i + 32])
    loss = F.mse_loss(out, y[i:i + 32]) + 0.5 * F.l1_loss(out, y[i:i + 32])
    opt.zero_grad(); loss.backward(); opt.step()
""",
    "small-deliberate-auxiliary-weight": TWO_HEADS.replace("PRICE", "x[:, 1] * 2").replace("WEIGHT", "0.01"),
    "vae-with-its-kl": """
data = torch.rand(512, 20)
class VAE(nn.Module):
    def __init__(self):
        super().__init__(); self.enc = nn.Linear(20, 8); self.dec = nn.Sequential(nn.Linear(4, 32), nn.ReLU(), nn.Linear(32, 20))
    def forward(self, x):
        mu, logvar = self.enc(x).chunk(2, dim=1)
        z = mu + torch.randn_like(mu) * (0.5 * logvar).exp()
        return self.dec(z), mu, logvar
vae = VAE(); opt = torch.optim.Adam(vae.parameters(), lr=1e-3)
for step in range(60):
    x = data[(step * 32) % 512:(step * 32) % 512 + 32]
    recon, mu, logvar = vae(x)
    rec = F.binary_cross_entropy_with_logits(recon, x, reduction="sum") / x.shape[0]
    kl = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp()) / x.shape[0]
    loss = rec + kl
    opt.zero_grad(); loss.backward(); opt.step()
""",
    "policy-gradient-with-an-entropy-bonus": """
obs = torch.randn(512, 4); good = (obs[:, 0] > 0).long()
policy = nn.Sequential(nn.Linear(4, 32), nn.Tanh(), nn.Linear(32, 2)); opt = torch.optim.Adam(policy.parameters(), lr=3e-3)
g = torch.Generator().manual_seed(1)
for step in range(60):
    o = obs[(step * 32) % 512:(step * 32) % 512 + 32]
    dist = torch.distributions.Categorical(logits=policy(o))
    action = dist.sample()
    reward = (action == good[(step * 32) % 512:(step * 32) % 512 + 32]).float()
    loss = -(dist.log_prob(action) * (reward - reward.mean())).mean() - 0.01 * dist.entropy().mean()
    opt.zero_grad(); loss.backward(); opt.step()
""",
    "weight-decay-written-into-the-loss": """
x = torch.randn(512, 10); y = (x[:, 0] > 0).long()
net = nn.Sequential(nn.Linear(10, 32), nn.ReLU(), nn.Linear(32, 2)); opt = torch.optim.SGD(net.parameters(), lr=0.1)
for step in range(60):
    i = (step * 32) % 512
    loss = F.cross_entropy(net(x[i:i + 32]), y[i:i + 32]) + 1e-4 * sum(p.pow(2).sum() for p in net.parameters())
    opt.zero_grad(); loss.backward(); opt.step()
""",
}

BALANCE = ("loss-imbalance", "loss-conflict")


def _terms_record(report):
    return next(p for p in report.sections["run"]["probes"] if p["name"] == "loss-terms")


@pytest.mark.parametrize("name", IMBALANCED)
def test_a_term_drowned_by_orders_of_magnitude_is_named(run_code, name):
    r = run_code(PRELUDE + IMBALANCED[name])
    assert "loss-imbalance" in codes(r), codes(r)
    f = next(f for f in r.findings if f.code == "loss-imbalance")
    assert f.evidence["term"] == "cross_entropy" and max(f.evidence["ratios"]) < 1e-3
    assert any("multiply" in h.check for h in f.hypotheses) and any("drop" in h.check for h in f.hypotheses)


MEASUREMENTS_SUMMED = """
x = torch.randn(1500, 2, 32); targets = x.reshape(1500, -1) @ (torch.randn(64, 6) * 0.3)
kind = (x[:, 0, :8].mean(1) > 0).long() + (x[:, 1, -8:].mean(1) > 0).long()
class Net(nn.Module):
    def __init__(s):
        super().__init__()
        s.conv = nn.Sequential(nn.Conv1d(2, 16, 5, padding=2), nn.ReLU(), nn.Conv1d(16, 16, 5, padding=2), nn.ReLU())
        s.meas = nn.Linear(16 * 32, 6); s.kind = nn.Linear(16 * 32, 3)
    def forward(s, x):
        h = s.conv(x).flatten(1); return s.meas(h), s.kind(h)
net = Net(); opt = torch.optim.SGD(net.parameters(), lr=2e-4, momentum=0.9)
for step in range(150):
    i = torch.randint(0, 1500, (48,))
    m, k = net(x[i])
    loss = ((m - targets[i]) ** 2).sum() + F.cross_entropy(k, kind[i])
    opt.zero_grad(); loss.backward(); opt.step()
"""


def test_a_mean_task_beside_a_summed_task_that_took_the_step_size_is_named(run_code):
    """Two orders below a summed regression that fell while it did not: the classification is not served."""
    r = run_code(PRELUDE + MEASUREMENTS_SUMMED)
    assert [c for c in codes(r) if c in BALANCE] == ["loss-imbalance"], codes(r)
    f = next(f for f in r.findings if f.code == "loss-imbalance")
    assert f.evidence["term"] == "cross_entropy" and 1e-3 <= max(f.evidence["ratios"]) < 1e-2


@pytest.mark.parametrize("name", DISPLACED)
def test_a_penalty_that_displaces_the_task_is_named(run_code, name):
    """Named first; where the experiments ran (the loss does not learn) and turning the penalty off confirmed it
    holds the task, that confirmation is the root cause and the displaced gradient follows from it."""
    r = run_code(PRELUDE + DISPLACED[name])
    confirmed = "over-regularization" in codes(r)
    assert codes(r)[:2] == (["over-regularization", "loss-imbalance"] if confirmed else ["loss-imbalance"]), codes(r)
    f = next(f for f in r.findings if f.code == "loss-imbalance")
    assert f.evidence["displaced"] and "reads no target" in f.observation, f.observation
    assert f.explained_by == ("over-regularization" if confirmed else None)


@pytest.mark.parametrize("name", CONFLICTING)
def test_terms_that_cancel_from_the_start_are_named(run_code, name):
    r = run_code(PRELUDE + CONFLICTING[name])
    assert "loss-conflict" in codes(r), codes(r)
    f = next(f for f in r.findings if f.code == "loss-conflict")
    assert "initial weights" in f.observation and max(f.evidence["cosines"]) < 0
    assert any("flip the sign" in h.check for h in f.hypotheses) and any("drop" in h.check for h in f.hypotheses)


@pytest.mark.parametrize("name", HEALTHY)
def test_balanced_aligned_and_deliberate_weightings_stay_quiet(run_code, name):
    r = run_code(PRELUDE + HEALTHY[name])
    assert not set(BALANCE) & set(codes(r, ("error", "warning", "info"))), codes(r)
    record = _terms_record(r)
    if name == "weight-decay-written-into-the-loss":
        assert record["status"] == "skipped" and "single term" in record["note"]
    else:
        assert record["status"] == "ran", record


# A network that solves u'' = f on [0, 1]: its residual comes from one call (a second derivative taken with
# autograd.grad), the boundary values from another, so the residual is not on the tape of the last call.
TWO_CALLS = """
import math
net = nn.Sequential(nn.Linear(1, 32), nn.Tanh(), nn.Linear(32, 32), nn.Tanh(), nn.Linear(32, 1))
opt = torch.optim.Adam(net.parameters(), lr=3e-3)
xb = torch.tensor([[0.0], [1.0]]); ub = torch.tensor([[1.0], [2.0]])
for step in range(150):
    x = torch.rand(64, 1).requires_grad_(True)
    u = net(x)
    du = torch.autograd.grad(u.sum(), x, create_graph=True)[0]
    d2u = torch.autograd.grad(du.sum(), x, create_graph=True)[0]
    residual = ((d2u + (3 * math.pi) ** 2 * torch.sin(3 * math.pi * x)) ** 2).mean() / SCALE
    loss = residual + WEIGHT * ((net(xb) - ub) ** 2).mean()
    opt.zero_grad(); loss.backward(); opt.step()
"""


@pytest.mark.parametrize("scale, weight, drowned", [(1.0, 0.1, True), ((3 * 3.1416) ** 4, 1.0, False)])
def test_a_term_off_the_last_calls_tape_is_measured_live(run_code, scale, weight, drowned):
    """The residual in its raw units (~1e3) makes the boundary term worse while it falls: the boundary values
    are traded away; scaled to the boundary term's units, both fall and nothing is named."""
    r = run_code(PRELUDE + TWO_CALLS.replace("SCALE", repr(scale)).replace("WEIGHT", repr(weight)))
    record = _terms_record(r)
    assert record["status"] == "ran" and len(record["off_tape"]) == 1, record
    named = [f for f in r.findings if f.code in BALANCE]
    assert [(f.code, f.severity, f.evidence["displaced"]) for f in named] == (
        [("loss-imbalance", "error", "worse")] if drowned else []), codes(r)
