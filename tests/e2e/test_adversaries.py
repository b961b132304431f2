"""`traindoctor run`, default configuration, on two models in a game: losses that push the discriminator's
score of generated samples the same way are named (gan-target-flipped), whatever the GAN's shape; healthy
games, and two models that cooperate by design, are not."""
import json
import subprocess
import sys
import textwrap

import pytest

from conftest import codes

PRELUDE = """
import torch, torch.nn as nn, torch.nn.functional as F
torch.manual_seed(0)
def ring(n):
    t = torch.rand(n) * 6.283
    return torch.stack([torch.cos(t), torch.sin(t)], 1) + 0.05 * torch.randn(n, 2)
"""

MLP_BCE = """
G = nn.Sequential(nn.Linear(4, 32), nn.ReLU(), nn.Linear(32, 2))
D = nn.Sequential(nn.Linear(2, 32), nn.LeakyReLU(0.2), nn.Linear(32, 1), nn.Sigmoid())
opt_g = torch.optim.Adam(G.parameters(), lr=1e-3); opt_d = torch.optim.Adam(D.parameters(), lr=1e-3)
for step in range(100):
    real = ring(64); fake = G(torch.randn(64, 4))
    d_real, d_fake = D(real), D(fake.detach())
    loss_d = F.binary_cross_entropy(d_real, torch.ones_like(d_real)) + \\
        F.binary_cross_entropy(d_fake, torch.zeros_like(d_fake))
    opt_d.zero_grad(); loss_d.backward(); opt_d.step()
    score = D(fake)
    loss_g = F.binary_cross_entropy(score, torch.zeros_like(score))
    opt_g.zero_grad(); loss_g.backward(); opt_g.step()
"""

WGAN = """
class Critic(nn.Module):
    def __init__(self):
        super().__init__(); self.body = nn.Sequential(nn.Linear(2, 64), nn.ReLU(), nn.Linear(64, 1))
    def forward(self, x): return self.body(x).squeeze(1)
class Generator(nn.Module):
    def __init__(self):
        super().__init__(); self.body = nn.Sequential(nn.Linear(8, 64), nn.ReLU(), nn.Linear(64, 2))
    def forward(self, z): return self.body(z)
G, C = Generator(), Critic()
opt_g = torch.optim.RMSprop(G.parameters(), lr=5e-4); opt_c = torch.optim.RMSprop(C.parameters(), lr=5e-4)
for it in range(60):
    for _ in range(3):
        with torch.no_grad():
            fake = G(torch.randn(64, 8))
        loss_c = C(fake).mean() - C(ring(64)).mean()
        opt_c.zero_grad(); loss_c.backward(); opt_c.step()
        for p in C.parameters():
            p.data.clamp_(-0.05, 0.05)
    loss_g = C(G(torch.randn(64, 8))).mean()
    opt_g.zero_grad(); loss_g.backward(); opt_g.step()
"""

CONDITIONAL_CONV = """
class Gen(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(4, 8); self.fc = nn.Linear(16, 16 * 4 * 4)
        self.up = nn.ConvTranspose2d(16, 1, 4, stride=2, padding=1)
    def forward(self, z, y):
        h = F.relu(self.fc(torch.cat([z, self.embed(y)], 1))).view(-1, 16, 4, 4)
        return torch.tanh(self.up(h))
class Disc(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 8, 4, stride=2, padding=1); self.embed = nn.Embedding(4, 8 * 4 * 4)
        self.fc = nn.Linear(8 * 4 * 4, 1)
    def forward(self, x, y):
        h = F.leaky_relu(self.conv(x), 0.2).flatten(1)
        return self.fc(h).squeeze(1) + (h * self.embed(y)).sum(1) * 0.01
def real_images(y):
    img = -torch.ones(len(y), 1, 8, 8)
    for k in range(4):
        r, c = divmod(k, 2)
        img[y == k, :, r * 4:r * 4 + 4, c * 4:c * 4 + 4] = 1.0
    return img + 0.05 * torch.randn_like(img)
G, D = Gen(), Disc()
opt_g = torch.optim.Adam(G.parameters(), lr=2e-3, betas=(0.5, 0.999))
opt_d = torch.optim.Adam(D.parameters(), lr=2e-3, betas=(0.5, 0.999))
criterion = nn.BCEWithLogitsLoss()
REAL, FAKE = 0.9, 0.1  # smoothed labels
for step in range(80):
    y = torch.randint(0, 4, (32,))
    fake = G(torch.randn(32, 8), y)
    out_real, out_fake = D(real_images(y), y), D(fake.detach(), y)
    loss_d = criterion(out_real, torch.full_like(out_real, REAL)) + criterion(out_fake, torch.full_like(out_fake, FAKE))
    opt_d.zero_grad(); loss_d.backward(); opt_d.step()
    out = D(fake, y)
    loss_g = criterion(out, torch.full_like(out, FAKE))
    opt_g.zero_grad(); loss_g.backward(); opt_g.step()
"""

LEAST_SQUARES = """
G = nn.Sequential(nn.Linear(4, 32), nn.Tanh(), nn.Linear(32, 2))
D = nn.Sequential(nn.Linear(2, 32), nn.LeakyReLU(0.2), nn.Linear(32, 1))
opt_g = torch.optim.Adam(G.parameters(), lr=1e-3, betas=(0.5, 0.999))
opt_d = torch.optim.Adam(D.parameters(), lr=1e-3, betas=(0.5, 0.999))
for step in range(100):
    fake = G(torch.randn(64, 4))
    loss_d = 0.5 * ((D(ring(64)) - 1) ** 2).mean() + 0.5 * (D(fake.detach()) ** 2).mean()
    opt_d.zero_grad(); loss_d.backward(); opt_d.step()
    loss_g = 0.5 * (D(fake) ** 2).mean()
    opt_g.zero_grad(); loss_g.backward(); opt_g.step()
"""

BROKEN = {"mlp-bce-fake-target": MLP_BCE, "wgan-generator-sign": WGAN,
          "conditional-conv-smoothed-fake-target": CONDITIONAL_CONV, "least-squares-fake-target": LEAST_SQUARES}

HEALTHY = {
    "non-saturating-bce": MLP_BCE.replace("F.binary_cross_entropy(score, torch.zeros_like(score))",
                                          "F.binary_cross_entropy(score, torch.ones_like(score))"),
    "wgan": WGAN.replace("loss_g = C(G(torch.randn(64, 8))).mean()", "loss_g = -C(G(torch.randn(64, 8))).mean()"),
    "conditional-conv-smoothed": CONDITIONAL_CONV.replace(
        "loss_g = criterion(out, torch.full_like(out, FAKE))", "loss_g = criterion(out, torch.full_like(out, REAL))"),
    "least-squares": LEAST_SQUARES.replace("(D(fake) ** 2).mean()", "((D(fake) - 1) ** 2).mean()"),
    "wgan-gp": """
G = nn.Sequential(nn.Linear(8, 64), nn.ReLU(), nn.Linear(64, 2))
D = nn.Sequential(nn.Linear(2, 64), nn.ReLU(), nn.Linear(64, 1))
opt_g = torch.optim.Adam(G.parameters(), lr=1e-3, betas=(0.5, 0.9))
opt_d = torch.optim.Adam(D.parameters(), lr=1e-3, betas=(0.5, 0.9))
for it in range(60):
    for _ in range(3):
        real, fake = ring(64), G(torch.randn(64, 8)).detach()
        eps = torch.rand(64, 1)
        mixed = (eps * real + (1 - eps) * fake).requires_grad_()
        grad, = torch.autograd.grad(D(mixed).sum(), mixed, create_graph=True)
        gp = ((grad.norm(dim=1) - 1) ** 2).mean()
        loss_d = D(fake).mean() - D(real).mean() + 10 * gp
        opt_d.zero_grad(); loss_d.backward(); opt_d.step()
    loss_g = -D(G(torch.randn(64, 8))).mean()
    opt_g.zero_grad(); loss_g.backward(); opt_g.step()
""",
    # The penalty taken last, in a helper: the critic's last call before the backward is the penalty's, at an
    # input made for it, which the recorded loss holds as a constant.
    "wgan-gp-penalty-last": """
G = nn.Sequential(nn.Linear(2, 64), nn.ReLU(), nn.Linear(64, 2))
D = nn.Sequential(nn.Linear(2, 64), nn.ReLU(), nn.Linear(64, 1))
opt_g = torch.optim.Adam(G.parameters(), lr=1e-3, betas=(0.5, 0.9))
opt_d = torch.optim.Adam(D.parameters(), lr=1e-3, betas=(0.5, 0.9))
def penalty(real, fake):
    eps = torch.rand(real.size(0), 1)
    x = (eps * real + (1 - eps) * fake).requires_grad_(True)
    g, = torch.autograd.grad(D(x).sum(), x, create_graph=True)
    return ((g.norm(2, dim=1) - 1) ** 2).mean()
for it in range(40):
    for _ in range(5):
        real, fake = ring(64), G(torch.randn(64, 2)).detach()
        loss_d = D(fake).mean() - D(real).mean() + 10 * penalty(real, fake)
        opt_d.zero_grad(); loss_d.backward(); opt_d.step()
    loss_g = -D(G(torch.randn(64, 2))).mean()
    opt_g.zero_grad(); loss_g.backward(); opt_g.step()
""",
    "hinge": """
G = nn.Sequential(nn.Linear(4, 32), nn.ReLU(), nn.Linear(32, 2))
D = nn.Sequential(nn.Linear(2, 32), nn.LeakyReLU(0.2), nn.Linear(32, 1))
opt_g = torch.optim.Adam(G.parameters(), lr=1e-3); opt_d = torch.optim.Adam(D.parameters(), lr=1e-3)
for step in range(100):
    with torch.no_grad():  # the generator's output made without a graph for D's step
        fake = G(torch.randn(64, 4))
    loss_d = F.relu(1 - D(ring(64))).mean() + F.relu(1 + D(fake)).mean()
    opt_d.zero_grad(); loss_d.backward(); opt_d.step()
    loss_g = -D(G(torch.randn(64, 4))).mean()
    opt_g.zero_grad(); loss_g.backward(); opt_g.step()
""",
    "undetached-fake-for-d-step": """
G = nn.Sequential(nn.Linear(4, 32), nn.ReLU(), nn.Linear(32, 2))
D = nn.Sequential(nn.Linear(2, 32), nn.LeakyReLU(0.2), nn.Linear(32, 1))
opt_g = torch.optim.Adam(G.parameters(), lr=1e-3); opt_d = torch.optim.Adam(D.parameters(), lr=1e-3)
bce = nn.BCEWithLogitsLoss()
for step in range(100):
    fake = G(torch.randn(64, 4))
    d_real, d_fake = D(ring(64)), D(fake)  # not detached: the generator's stray gradients are zeroed below
    loss_d = bce(d_real, torch.ones_like(d_real)) + bce(d_fake, torch.zeros_like(d_fake))
    opt_d.zero_grad(); loss_d.backward(retain_graph=True); opt_d.step()
    opt_g.zero_grad()
    score = D(fake)
    loss_g = bce(score, torch.ones_like(score))
    loss_g.backward(); opt_g.step()
""",
    "encoder-and-head-one-loss-two-optimizers": """
encoder = nn.Sequential(nn.Linear(10, 32), nn.ReLU(), nn.Linear(32, 16))
head = nn.Linear(16, 3)
opt_e = torch.optim.Adam(encoder.parameters(), lr=1e-3); opt_h = torch.optim.SGD(head.parameters(), lr=0.05)
x = torch.randn(512, 10); y = (x[:, :3].argmax(1))
for step in range(100):
    i = (step * 64) % 512
    loss = F.cross_entropy(head(encoder(x[i:i + 64])), y[i:i + 64])
    opt_e.zero_grad(); opt_h.zero_grad(); loss.backward(); opt_e.step(); opt_h.step()
""",
    "encoder-and-probe-alternating": """
encoder = nn.Sequential(nn.Linear(10, 32), nn.ReLU(), nn.Linear(32, 16))
head = nn.Linear(16, 3)
opt_e = torch.optim.Adam(encoder.parameters(), lr=1e-3); opt_h = torch.optim.SGD(head.parameters(), lr=0.05)
x = torch.randn(512, 10); y = (x[:, :3].argmax(1))
for step in range(100):
    i = (step * 64) % 512
    feats = encoder(x[i:i + 64])
    loss_h = F.cross_entropy(head(feats.detach()), y[i:i + 64])  # the head on frozen features
    opt_h.zero_grad(); loss_h.backward(); opt_h.step()
    loss_e = F.cross_entropy(head(feats), y[i:i + 64])  # the encoder through the head
    opt_e.zero_grad(); loss_e.backward(); opt_e.step()
""",
    "teacher-student-distillation": """
teacher = nn.Sequential(nn.Linear(10, 64), nn.ReLU(), nn.Linear(64, 3))
student = nn.Sequential(nn.Linear(10, 8), nn.ReLU(), nn.Linear(8, 3))
opt_t = torch.optim.Adam(teacher.parameters(), lr=1e-3); opt_s = torch.optim.Adam(student.parameters(), lr=1e-3)
x = torch.randn(512, 10); y = (x[:, :3].argmax(1))
for step in range(100):
    i = (step * 64) % 512
    xb, yb = x[i:i + 64], y[i:i + 64]
    t_logits = teacher(xb)
    loss_t = F.cross_entropy(t_logits, yb)
    opt_t.zero_grad(); loss_t.backward(); opt_t.step()
    soft = F.softmax(t_logits.detach() / 2, 1)
    loss_s = F.kl_div(F.log_softmax(student(xb) / 2, 1), soft, reduction="batchmean")
    opt_s.zero_grad(); loss_s.backward(); opt_s.step()
""",
}


@pytest.mark.parametrize("name", BROKEN)
def test_losses_that_push_the_score_of_generated_samples_the_same_way(run_code, name):
    r = run_code(PRELUDE + BROKEN[name])
    assert codes(r)[:1] == ["gan-target-flipped"], codes(r)
    f = next(f for f in r.findings if f.code == "gan-target-flipped")
    assert f.location.get("line") and f.evidence["generator_pulls"]


@pytest.mark.parametrize("name", HEALTHY)
def test_games_and_cooperating_models_are_not(run_code, name):
    r = run_code(PRELUDE + HEALTHY[name])
    assert codes(r) == [], codes(r)
    assert not r.sections["run"]["internal_errors"], r.sections["run"]["internal_errors"]


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "traindoctor", *map(str, args)], capture_output=True, text=True,
                          timeout=300)


def test_from_the_command_line(tmp_path):
    path = tmp_path / "gan.py"
    path.write_text(textwrap.dedent(PRELUDE + MLP_BCE))
    done = _cli("run", "--format", "json", path)
    assert done.returncode == 1, done.stderr
    assert json.loads(done.stdout)["summary"]["root_cause"] == "gan-target-flipped"


@pytest.mark.parametrize("name", ["wgan-gp", "undetached-fake-for-d-step"])
def test_the_game_trains_bit_identically_under_run(tmp_path, name):
    """Measuring the pulls (autograd.grad on the user's graph before their backward) changes no loss."""
    path = tmp_path / "gan.py"
    path.write_text(textwrap.dedent(PRELUDE + HEALTHY[name]).replace(
        "opt_g.step()", "opt_g.step(); print(repr(loss_g.item()), repr(loss_d.item()))"))
    plain = subprocess.run([sys.executable, str(path)], capture_output=True, text=True, timeout=300)
    watched = _cli("run", "--max-steps", "0", "--output", tmp_path / "r.json", path)
    assert plain.returncode == 0 and watched.returncode in (0, 1), watched.stderr
    assert watched.stdout == plain.stdout and plain.stdout.count("\n") >= 60


SPIKE = """
import torch, torch.nn as nn, torch.nn.functional as F
torch.manual_seed(0)
G = nn.Sequential(nn.Linear(2, 32), nn.ReLU(), nn.Linear(32, 2))
D = nn.Sequential(nn.Linear(2, 32), nn.ReLU(), nn.Linear(32, 1))
og = torch.optim.Adam(G.parameters(), lr=1e-3); od = torch.optim.Adam(D.parameters(), lr=1e-3)
for step in range(140):
    real = torch.randn(128, 2) * 0.5 + 2
    fake = {fake}
    od.zero_grad()
    ld = F.binary_cross_entropy_with_logits(D(real), torch.ones(128, 1)) + \\
         F.binary_cross_entropy_with_logits(D(fake.detach()), torch.zeros(128, 1))
    ld = ld + (100.0 if step == 120 else 0.0)   # one loss far above the rest; the gradients do not change
    ld.backward(); od.step()
    og.zero_grad()
    {g_loss}.backward(); og.step()
"""


@pytest.mark.parametrize("fake, g_loss, spikes", [
    # a game: the loss each player minimises, the other pushes back up
    ("G(torch.randn(128, 2))", "F.binary_cross_entropy_with_logits(D(fake), torch.ones(128, 1))", False),
    # no game: real data against noise, and a second model fitted on its own
    ("torch.randn(128, 2)", "F.mse_loss(G(real), real.flip(1))", True),
])
def test_loss_curve_shapes_are_not_judged_on_a_players_loss(run_code, fake, g_loss, spikes):
    r = run_code(SPIKE.format(fake=fake, g_loss=g_loss))
    assert ("loss-spikes" in [f.code for f in r.findings]) is spikes, [(f.code, f.observation) for f in r.findings]
