"""`traindoctor run` on a loss whose penalty is computed from the outputs, not the weights (a sparsity or size
penalty on activations, a VAE's KL) and weighted so that the task term stops moving: the experiments turn
the terms that read no target off and name over-regularization first; a beta-VAE and a KL ramped in, which
still learn, stay quiet even when the experiments are forced."""
import pytest

from conftest import codes

PRELUDE = """
import torch, torch.nn as nn, torch.nn.functional as F
torch.manual_seed(0)
"""

VAE = """
basis = torch.randn(4, 32)
class VAE(nn.Module):
    def __init__(self):
        super().__init__()
        self.enc = nn.Sequential(nn.Linear(32, 64), nn.ReLU(), nn.Linear(64, 8))
        self.dec = nn.Sequential(nn.Linear(4, 64), nn.ReLU(), nn.Linear(64, 32))
    def forward(self, x):
        mu, logvar = self.enc(x).chunk(2, dim=1)
        return self.dec(mu + torch.randn_like(mu) * (0.5 * logvar).exp()), mu, logvar
vae = VAE()
opt = torch.optim.Adam(vae.parameters(), lr=1e-3)
for step in range(200):
    x = torch.randn(64, 4) @ basis
    recon, mu, logvar = vae(x)
    kl = -0.5 * (1 + logvar - mu ** 2 - logvar.exp()).sum(1).mean()
"""

DOMINATED = {
    # a VAE whose KL weight (100) collapses the posterior: the reconstruction stays where it started
    "vae-kl-x100": VAE + """
    loss = F.mse_loss(recon, x) + 100.0 * kl
    opt.zero_grad(); loss.backward(); opt.step()
""",
    # a regression whose outputs are pulled to zero by a size penalty weighted 50
    "regression-output-size-x50": """
w = torch.randn(10, 3)
net = nn.Sequential(nn.Linear(10, 64), nn.ReLU(), nn.Linear(64, 3))
opt = torch.optim.Adam(net.parameters(), lr=1e-3)
for step in range(200):
    x = torch.randn(128, 10)
    pred = net(x)
    loss = F.mse_loss(pred, x @ w) + 50.0 * pred.pow(2).mean()
    opt.zero_grad(); loss.backward(); opt.step()
""",
    # a sequence tagger whose recurrent states are held at zero by an activation penalty weighted 100
    "tagger-hidden-state-x100": """
tag_of = torch.randint(0, 5, (30,))
class Tagger(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb, self.rnn, self.tag = nn.Embedding(30, 32), nn.GRU(32, 32, batch_first=True), nn.Linear(32, 5)
    def forward(self, tok):
        h, _ = self.rnn(self.emb(tok))
        return self.tag(h), h
net = Tagger()
opt = torch.optim.Adam(net.parameters(), lr=2e-3)
for step in range(200):
    tok = torch.randint(0, 30, (32, 16))
    tags, h = net(tok)
    loss = F.cross_entropy(tags.reshape(-1, 5), tag_of[tok].reshape(-1)) + 100.0 * h.pow(2).mean()
    opt.zero_grad(); loss.backward(); opt.step()
""",
}

HEALTHY = {
    "beta-vae-4": VAE + """
    loss = F.mse_loss(recon, x, reduction="sum") / x.shape[0] + 4.0 * kl
    opt.zero_grad(); loss.backward(); opt.step()
""",
    "vae-kl-ramped-in": VAE + """
    loss = F.mse_loss(recon, x, reduction="sum") / x.shape[0] + min(1.0, step / 100) * kl
    opt.zero_grad(); loss.backward(); opt.step()
""",
}


@pytest.mark.parametrize("name", sorted(DOMINATED))
def test_a_penalty_on_the_outputs_that_stops_the_task_is_named_first(run_code, name):
    report = run_code(PRELUDE + DOMINATED[name])
    first = report.findings[0]
    assert first.code == "over-regularization", [(f.code, f.observation) for f in report.findings]
    assert "reads no target" in first.observation


@pytest.mark.parametrize("name", sorted(HEALTHY))
def test_a_penalty_on_the_outputs_the_task_learns_beside_is_quiet_even_when_asked(run_code, name):
    report = run_code(PRELUDE + HEALTHY[name], experiments_=True)
    assert codes(report) == [], [(f.code, f.observation) for f in report.findings]
