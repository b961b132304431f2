"""`traindoctor run` with its defaults on a model scored against its own input: a denoiser whose loss compares
its output with the noisy sample it was given (a torch loss function, or a loss written by hand, whose target
is read from the loss head on tape) is `label-leakage`; an autoencoder reconstructing through its code, and a
denoiser scored against the noise, are quiet."""
import pytest

from conftest import codes

PRELUDE = """
import torch, torch.nn as nn, torch.nn.functional as F
torch.manual_seed(0)
class Denoiser(nn.Module):
    def __init__(self):
        super().__init__(); self.net = nn.Sequential(nn.Linear(9, 64), nn.SiLU(), nn.Linear(64, 8))
    def forward(self, x_t, t):
        return self.net(torch.cat([x_t, t[:, None]], 1))
class AutoEncoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.enc, self.dec = nn.Sequential(nn.Linear(8, 32), nn.ReLU(), nn.Linear(32, 2)), nn.Sequential(nn.Linear(2, 32), nn.ReLU(), nn.Linear(32, 8))
    def forward(self, x):
        return self.dec(self.enc(x))
class VAE(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(8, 32), nn.ReLU()); self.mu, self.logvar = nn.Linear(32, 2), nn.Linear(32, 2)
        self.dec = nn.Sequential(nn.Linear(2, 32), nn.ReLU(), nn.Linear(32, 8))
    def forward(self, x):
        h = self.body(x); mu, logvar = self.mu(h), self.logvar(h)
        return self.dec(mu + torch.randn_like(mu) * (0.5 * logvar).exp()), mu, logvar
basis = torch.randn(2, 8)
"""

DIFFUSION = PRELUDE + """
model = Denoiser(); opt = torch.optim.Adam(model.parameters(), lr=1e-3)
for step in range(80):
    x0 = torch.randn(64, 2) @ basis
    t = torch.rand(64); eps = torch.randn_like(x0)
    x_t = (1 - t[:, None]).sqrt() * x0 + t[:, None].sqrt() * eps
    pred = model(x_t, t)
    loss = LOSS
    opt.zero_grad(); loss.backward(); opt.step()
"""

AUTOENCODER = PRELUDE + """
model = AutoEncoder(); opt = torch.optim.Adam(model.parameters(), lr=1e-3)
for step in range(80):
    x = torch.randn(64, 2) @ basis + 0.05 * torch.randn(64, 8)
    loss = LOSS
    opt.zero_grad(); loss.backward(); opt.step()
"""

VAE_SCRIPT = PRELUDE + """
model = VAE(); opt = torch.optim.Adam(model.parameters(), lr=1e-3)
for step in range(80):
    x = torch.randn(64, 2) @ basis + 0.05 * torch.randn(64, 8)
    out, mu, logvar = model(x)
    loss = LOSS - 0.5 * torch.sum(1 + logvar - mu ** 2 - logvar.exp()) / len(x)
    opt.zero_grad(); loss.backward(); opt.step()
"""

CASES = {  # script, loss, leaks
    "denoiser-against-its-input-by-hand": (DIFFUSION, "((pred - x_t) ** 2).mean()", True),
    "denoiser-against-its-input-mse": (DIFFUSION, "F.mse_loss(pred, x_t)", True),
    "denoiser-against-the-noise-by-hand": (DIFFUSION, "((pred - eps) ** 2).mean()", False),
    "autoencoder-by-hand": (AUTOENCODER, "((model(x) - x) ** 2).sum(1).mean()", False),
    "autoencoder-mse": (AUTOENCODER, "F.mse_loss(model(x), x)", False),
    "vae-two-heads-summed-mse": (VAE_SCRIPT, "F.mse_loss(out, x, reduction='sum') / len(x)", False),
}


@pytest.mark.parametrize("name", CASES)
def test_a_model_scored_against_its_own_input(run_code, name):
    script, loss, leaks = CASES[name]
    r = run_code(script.replace("LOSS", loss))
    assert ("label-leakage" in codes(r)) == leaks, [(f.code, f.observation) for f in r.findings]
    if leaks:
        assert codes(r)[:1] == ["label-leakage"]
