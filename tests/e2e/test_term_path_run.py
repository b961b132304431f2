"""`traindoctor run`, with its defaults: one term of a multi-term loss whose path from the weights before a
layer of its own is cut, while other terms still train those weights — a classifier reading a detached code,
a VAE's sample drawn under no_grad or with a distribution's sample(), a second head reading `.data`, a sequence
head on a detached state, a decoder reading the one-hot of an argmax — is named with its term and the call that
cuts it. Deliberate stop-gradients on one term are not: test_term_path_healthy_run.py."""
import pytest

from conftest import codes

PRELUDE = """
import torch, torch.nn as nn, torch.nn.functional as F
torch.manual_seed(0)
"""

CUT = {
    "classifier-on-a-detached-code": ("cross_entropy", """
x = torch.randn(768, 12); y = (x[:, 3] - x[:, 4] > 0).long() + (x[:, 5] > 0).long()
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.enc = nn.Sequential(nn.Linear(12, 24), nn.Tanh(), nn.Linear(24, 3))
        self.dec = nn.Linear(3, 12)
        self.cls = nn.Sequential(nn.Linear(3, 16), nn.ReLU(), nn.Linear(16, 3))
    def forward(self, x):
        code = self.enc(x)
        return self.dec(code), self.cls(code.detach())
net = Net(); opt = torch.optim.Adam(net.parameters(), lr=3e-3)
for step in range(60):
    i = (step * 64) % 768
    rec, logits = net(x[i:i + 64])
    loss = F.mse_loss(rec, x[i:i + 64]) + F.cross_entropy(logits, y[i:i + 64])
    opt.zero_grad(); loss.backward(); opt.step()
"""),
    "vae-sample-drawn-under-no-grad": ("mse_loss", """
x = torch.randn(512, 3) @ torch.randn(3, 10)
class VAE(nn.Module):
    def __init__(self):
        super().__init__()
        self.enc = nn.Sequential(nn.Linear(10, 32), nn.ReLU())
        self.mu, self.logvar = nn.Linear(32, 3), nn.Linear(32, 3)
        self.dec = nn.Sequential(nn.Linear(3, 32), nn.ReLU(), nn.Linear(32, 10))
    def forward(self, x):
        h = self.enc(x)
        mu, logvar = self.mu(h), self.logvar(h)
        with torch.no_grad():
            z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
        return self.dec(z), mu, logvar
vae = VAE(); opt = torch.optim.Adam(vae.parameters(), lr=2e-3)
for step in range(60):
    i = (step * 64) % 512
    rec, mu, logvar = vae(x[i:i + 64])
    kl = -0.5 * (1 + logvar - mu.pow(2) - logvar.exp()).sum(1).mean()
    loss = F.mse_loss(rec, x[i:i + 64]) + 0.1 * kl
    opt.zero_grad(); loss.backward(); opt.step()
"""),
    # The loss learns (the decoder learns the images' mean from noise), so only the question asked of every
    # multi-term loss finds it: a warning.
    "vae-sample-under-no-grad-while-the-loss-learns": ("binary_cross_entropy_with_logits", """
class VAE(nn.Module):
    def __init__(self, d=64, z=8):
        super().__init__()
        self.enc = nn.Sequential(nn.Linear(d, 128), nn.ReLU()); self.mu = nn.Linear(128, z); self.lv = nn.Linear(128, z)
        self.dec = nn.Sequential(nn.Linear(z, 128), nn.ReLU(), nn.Linear(128, d))
    def forward(self, x):
        h = self.enc(x); mu, lv = self.mu(h), self.lv(h)
        with torch.no_grad():
            z = mu + torch.randn_like(mu) * (0.5 * lv).exp()
        return self.dec(z), mu, lv
data = (torch.randn(4000, 8) @ torch.randn(8, 64) > 2.5).float()
model = VAE(); opt = torch.optim.Adam(model.parameters(), lr=2e-4)
for step in range(300):
    x = data[(step * 64) % 4000:(step * 64) % 4000 + 64]
    rec, mu, lv = model(x)
    loss = F.binary_cross_entropy_with_logits(rec, x, reduction="sum") / len(x) - 0.5 * torch.sum(1 + lv - mu.pow(2) - lv.exp()) / len(x)
    opt.zero_grad(); loss.backward(); opt.step()
"""),
    "second-head-reads-features-data": ("mse_loss", """
x = torch.randn(640, 16); kind = (x[:, 0] > 0).long(); size = x[:, 1:4].sum(1)
class TwoTower(nn.Module):
    def __init__(self):
        super().__init__()
        self.trunk = nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, 32), nn.ReLU())
        self.kind = nn.Linear(32, 2)
        self.size = nn.Sequential(nn.Linear(32, 16), nn.ReLU(), nn.Linear(16, 1))
    def forward(self, x):
        features = self.trunk(x)
        return self.kind(features), self.size(features.data).squeeze(-1)
model = TwoTower(); opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
for step in range(60):
    i = (step * 32) % 640
    logits, pred = model(x[i:i + 32])
    loss = F.cross_entropy(logits, kind[i:i + 32]) + 0.5 * F.mse_loss(pred, size[i:i + 32])
    opt.zero_grad(); loss.backward(); opt.step()
"""),
    "sequence-head-on-a-detached-state": ("binary_cross_entropy_with_logits", """
seq = torch.randn(256, 10, 4); tags = (seq[..., 0] > 0).long(); flag = (seq[..., 1].sum(1) > 0).float()
class Tagger(nn.Module):
    def __init__(self):
        super().__init__()
        self.rnn = nn.GRU(4, 16, batch_first=True)
        self.tag = nn.Linear(16, 2)
        self.flag = nn.Sequential(nn.Linear(16, 8), nn.Tanh(), nn.Linear(8, 1))
    def forward(self, seq):
        h, last = self.rnn(seq)
        return self.tag(h), self.flag(last[-1].detach()).squeeze(-1)
model = Tagger(); opt = torch.optim.Adam(model.parameters(), lr=3e-3)
for step in range(60):
    i = (step * 32) % 256
    tag_logits, flag_logit = model(seq[i:i + 32])
    loss = F.cross_entropy(tag_logits.reshape(-1, 2), tags[i:i + 32].reshape(-1)) \\
        + F.binary_cross_entropy_with_logits(flag_logit, flag[i:i + 32])
    opt.zero_grad(); loss.backward(); opt.step()
"""),
    # The code is a one-hot of an argmax, with no straight-through: the encoder learns from the entropy term alone.
    "gumbel-argmax-without-straight-through": ("mse_loss", """
class DiscreteAE(nn.Module):
    def __init__(self):
        super().__init__()
        self.enc = nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, 8))
        self.dec = nn.Sequential(nn.Linear(8, 32), nn.ReLU(), nn.Linear(32, 16))
    def forward(self, x):
        logits = self.enc(x)
        g = -torch.log(-torch.log(torch.rand_like(logits) + 1e-9) + 1e-9)
        return self.dec(F.one_hot(torch.argmax(logits + g, -1), 8).float()), logits
data = (torch.randn(8, 16) * 2)[torch.randint(0, 8, (1024,))] + 0.3 * torch.randn(1024, 16)
model = DiscreteAE(); opt = torch.optim.Adam(model.parameters(), lr=1e-3)
for step in range(60):
    x = data[(step * 32) % 1024:(step * 32) % 1024 + 32]
    rec, logits = model(x)
    p = logits.softmax(-1)
    loss = F.mse_loss(rec, x) + 0.01 * (p * p.clamp_min(1e-9).log()).sum(-1).mean()
    opt.zero_grad(); loss.backward(); opt.step()
"""),
    # Normal(mu, std).sample() draws under no_grad inside torch.distributions; the KL is written on mu, logvar.
    "vae-latent-drawn-with-distribution-sample": ("mse_loss", """
from torch.distributions import Normal
x = torch.randn(512, 3) @ torch.randn(3, 10)
class VAE(nn.Module):
    def __init__(self):
        super().__init__()
        self.enc = nn.Sequential(nn.Linear(10, 32), nn.ReLU(), nn.Linear(32, 6))
        self.dec = nn.Sequential(nn.Linear(3, 32), nn.ReLU(), nn.Linear(32, 10))
    def forward(self, x):
        mu, logvar = self.enc(x).chunk(2, -1)
        return self.dec(Normal(mu, torch.exp(0.5 * logvar)).sample()), mu, logvar
vae = VAE(); opt = torch.optim.Adam(vae.parameters(), lr=2e-3)
for step in range(60):
    i = (step * 64) % 512
    rec, mu, logvar = vae(x[i:i + 64])
    kl = -0.5 * (1 + logvar - mu.pow(2) - logvar.exp()).sum(1).mean()
    loss = F.mse_loss(rec, x[i:i + 64]) + 0.1 * kl
    opt.zero_grad(); loss.backward(); opt.step()
"""),
}

@pytest.mark.parametrize("name", CUT)
def test_a_term_cut_from_the_weights_before_its_layer_is_named(run_code, name):
    """With run's defaults: asked of every multi-term loss, an error when the loss does not learn."""
    term, source = CUT[name]
    r = run_code(PRELUDE + source)
    breaks = [f for f in r.findings if f.code == "graph-break"]
    assert len(breaks) == 1, codes(r)
    f = breaks[0]
    learns = r.sections["run"]["experiments"]["why"].startswith("the loss is a sum of terms")
    assert f.severity == ("warning" if learns else "error") and f.evidence["confirmed_by"] == "experiment"
    assert f.evidence["term"] == term and f"`{term}` term" in f.observation
    assert f.location.get("line") and f.evidence["reader"]["line"]
    observed = [o for o in r.sections["run"]["experiments"]["observations"] if o["name"] == "term-gradient-path"]
    assert observed and observed[0]["keeps"]
