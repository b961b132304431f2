"""`traindoctor run`, with its defaults (and with every experiment where they do not ask the question):
deliberate stop-gradients on one term of a multi-term loss (an advantage, a TD target, a VQ-VAE's codebook and
commitment terms and its index into the codebook, a GAN's detached fakes, a frozen backbone, an action drawn
with sample()) are not a cut path (the cut ones: test_term_path_run.py)."""
import pytest

from conftest import codes

PRELUDE = """
import torch, torch.nn as nn, torch.nn.functional as F
torch.manual_seed(0)
"""

HEALTHY = {
    # The action is drawn with sample() (an index, under no_grad); the gradient goes through log_prob.
    "reinforce-categorical-sample-with-detached-baseline": """
from torch.distributions import Categorical
W = torch.randn(6, 4)
class Agent(nn.Module):
    def __init__(self):
        super().__init__()
        self.pi = nn.Sequential(nn.Linear(6, 32), nn.Tanh(), nn.Linear(32, 4))
        self.v = nn.Sequential(nn.Linear(6, 16), nn.Tanh(), nn.Linear(16, 1))
    def forward(self, s):
        return Categorical(logits=self.pi(s)), self.v(s).squeeze(1)
agent = Agent(); opt = torch.optim.Adam(agent.parameters(), lr=3e-3)
for step in range(60):
    s = torch.randn(64, 6)
    dist, b = agent(s)
    a = dist.sample()
    reward = (s @ W).gather(1, a[:, None]).squeeze(1)
    loss = -(dist.log_prob(a) * (reward - b.detach())).mean() + 0.5 * F.mse_loss(b, reward)
    opt.zero_grad(); loss.backward(); opt.step()
""",
    # The code's index (an argmin) picks codebook rows: a choice among weights, carried past by straight-through.
    "vq-vae-argmin-lookup-straight-through": """
x = torch.randn(16, 12)[torch.randint(0, 16, (1024,))] + 0.2 * torch.randn(1024, 12)
class VQ(nn.Module):
    def __init__(self):
        super().__init__()
        self.enc = nn.Sequential(nn.Linear(12, 32), nn.ReLU(), nn.Linear(32, 4))
        self.codebook = nn.Embedding(16, 4)
        self.dec = nn.Sequential(nn.Linear(4, 32), nn.ReLU(), nn.Linear(32, 12))
    def forward(self, x):
        z_e = self.enc(x)
        z_q = self.codebook(torch.cdist(z_e, self.codebook.weight).argmin(-1))
        return self.dec(z_e + (z_q - z_e).detach()), z_e, z_q
vq = VQ(); opt = torch.optim.Adam(vq.parameters(), lr=1e-3)
for step in range(60):
    i = (step * 64) % 1024
    rec, z_e, z_q = vq(x[i:i + 64])
    loss = F.mse_loss(rec, x[i:i + 64]) + F.mse_loss(z_q, z_e.detach()) + 0.25 * F.mse_loss(z_e, z_q.detach())
    opt.zero_grad(); loss.backward(); opt.step()
""",
    "actor-critic-advantage-detached": """
s = torch.randn(1024, 4); a = torch.randint(0, 2, (1024,)); ret = s[:, 0] * (2 * a - 1).float() + s[:, 1]
class AC(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(4, 32), nn.Tanh())
        self.pi, self.v = nn.Linear(32, 2), nn.Linear(32, 1)
    def forward(self, s):
        h = self.body(s)
        return self.pi(h), self.v(h).squeeze(-1)
ac = AC(); opt = torch.optim.Adam(ac.parameters(), lr=1e-3)
for step in range(60):
    i = (step * 64) % 1024
    logits, value = ac(s[i:i + 64])
    logp = F.log_softmax(logits, -1).gather(1, a[i:i + 64, None]).squeeze(1)
    advantage = ret[i:i + 64] - value
    loss = -(logp * advantage.detach()).mean() + 0.5 * advantage.pow(2).mean()
    opt.zero_grad(); loss.backward(); opt.step()
""",
    "td-target-under-no-grad-from-the-same-network": """
s = torch.randn(1024, 4); a = torch.randint(0, 3, (1024,)); r = s[:, 0] * (a - 1).float()
s2 = s + 0.1 * torch.randn(1024, 4)
class Q(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(4, 32), nn.ReLU(), nn.Linear(32, 3))
    def forward(self, s, s2):
        with torch.no_grad():
            best_next = self.net(s2).max(1).values
        return self.net(s), best_next
q = Q(); opt = torch.optim.Adam(q.parameters(), lr=1e-3)
for step in range(60):
    i = (step * 64) % 1024
    values, best_next = q(s[i:i + 64], s2[i:i + 64])
    pred = values.gather(1, a[i:i + 64, None]).squeeze(1)
    target = r[i:i + 64] + 0.9 * best_next
    loss = F.smooth_l1_loss(pred, target) + 0.1 * (torch.logsumexp(values, 1).mean() - pred.mean())
    opt.zero_grad(); loss.backward(); opt.step()
""",
    "vq-vae-codebook-and-commitment": """
x = torch.randn(512, 8)
class VQ(nn.Module):
    def __init__(self):
        super().__init__()
        self.enc = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 4))
        self.codebook = nn.Embedding(16, 4)
        self.dec = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 8))
    def forward(self, x):
        z_e = self.enc(x)
        idx = torch.cdist(z_e.detach(), self.codebook.weight).argmin(1)
        e = self.codebook(idx)
        z_q = z_e + (e - z_e).detach()
        return self.dec(z_q), z_e, e
vq = VQ(); opt = torch.optim.Adam(vq.parameters(), lr=1e-3)
for step in range(60):
    i = (step * 64) % 512
    rec, z_e, e = vq(x[i:i + 64])
    loss = F.mse_loss(rec, x[i:i + 64]) + F.mse_loss(z_e.detach(), e) + 0.25 * F.mse_loss(z_e, e.detach())
    opt.zero_grad(); loss.backward(); opt.step()
""",
    "gan-discriminator-step-on-detached-fakes": """
G = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 2))
D = nn.Sequential(nn.Linear(2, 16), nn.LeakyReLU(0.2), nn.Linear(16, 1))
opt_g = torch.optim.Adam(G.parameters(), lr=1e-3); opt_d = torch.optim.Adam(D.parameters(), lr=1e-3)
for step in range(60):
    real = torch.randn(64, 2) * 0.5 + torch.tensor([2.0, -1.0])
    fake = G(torch.randn(64, 4))
    d_loss = F.binary_cross_entropy_with_logits(D(real), torch.ones(64, 1)) \\
        + F.binary_cross_entropy_with_logits(D(fake.detach()), torch.zeros(64, 1))
    opt_d.zero_grad(); d_loss.backward(); opt_d.step()
    g_loss = F.binary_cross_entropy_with_logits(D(fake), torch.ones(64, 1))
    opt_g.zero_grad(); g_loss.backward(); opt_g.step()
""",
    "gan-in-one-module-discriminator-step-on-detached-fakes": """
class GAN(nn.Module):
    def __init__(self):
        super().__init__()
        self.g = nn.Sequential(nn.Linear(4, 32), nn.ReLU(), nn.Linear(32, 2))
        self.d = nn.Sequential(nn.Linear(2, 16), nn.LeakyReLU(0.2), nn.Linear(16, 1))
    def forward(self, z, real):
        fake = self.g(z)
        return self.d(real), self.d(fake.detach()), self.d(fake)
gan = GAN()
opt_d = torch.optim.Adam(gan.d.parameters(), lr=1e-3); opt_g = torch.optim.Adam(gan.g.parameters(), lr=1e-3)
for step in range(60):
    real = torch.randn(64, 2) * 0.5 + torch.tensor([2.0, -1.0])
    on_real, on_fake, on_gen = gan(torch.randn(64, 4), real)
    d_loss = F.binary_cross_entropy_with_logits(on_real, torch.ones(64, 1)) \\
        + F.binary_cross_entropy_with_logits(on_fake, torch.zeros(64, 1))
    g_loss = F.binary_cross_entropy_with_logits(on_gen, torch.ones(64, 1))
    opt_d.zero_grad(); d_loss.backward(retain_graph=True)
    opt_g.zero_grad(); g_loss.backward()
    opt_d.step(); opt_g.step()
""",
    "frozen-backbone-under-no-grad-outside-the-optimizer": """
x = torch.randn(640, 10); y = (x[:, 0] > 0).long(); t = x[:, 1]
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.backbone = nn.Sequential(nn.Linear(10, 32), nn.ReLU())
        self.cls, self.reg = nn.Linear(32, 2), nn.Linear(32, 1)
    def forward(self, x):
        with torch.no_grad():
            f = self.backbone(x)
        return self.cls(f), self.reg(f).squeeze(-1)
net = Net(); opt = torch.optim.Adam([*net.cls.parameters(), *net.reg.parameters()], lr=1e-3)
for step in range(60):
    i = (step * 32) % 640
    logits, pred = net(x[i:i + 32])
    loss = F.cross_entropy(logits, y[i:i + 32]) + F.mse_loss(pred, t[i:i + 32])
    opt.zero_grad(); loss.backward(); opt.step()
""",
}


@pytest.mark.parametrize("name", HEALTHY)
def test_a_deliberate_stop_gradient_on_one_term_is_not_a_cut(run_code, name):
    # run's defaults, then every experiment where the defaults ran none (the loss learned)
    r = run_code(PRELUDE + HEALTHY[name])
    assert "graph-break" not in codes(r), codes(r)
    asked = {o["name"] for o in r.sections["run"]["experiments"].get("observations", [])}
    if not asked & {"term-gradient-path", "baseline"}:
        r = run_code(PRELUDE + HEALTHY[name], experiments_=True)
        assert "graph-break" not in codes(r), codes(r)
