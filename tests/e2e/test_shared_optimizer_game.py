"""`traindoctor run`, default configuration, on games whose one optimizer applies a player's loss to the
other player's parameters (game-shared-optimizer): the generator's loss stepping the discriminator, the
discriminator's loss stepping the generator through fakes left attached, both losses summed into one
backward. Healthy look-alikes share an optimizer, or pass gradients across, without applying them."""
import subprocess
import sys
import textwrap

import pytest

from conftest import codes

PRELUDE = """
import torch, torch.nn as nn, torch.nn.functional as F
torch.manual_seed(0)
def blobs(n):  # three clusters on a line, in 3-D
    k = torch.randint(0, 3, (n, 1)).float()
    return torch.cat([k - 1, 2 * k - 2, torch.zeros(n, 1)], 1) + 0.1 * torch.randn(n, 3)
"""

# The discriminator's step on detached fakes is right; the generator's backward also fills D's gradients
# and the one optimizer applies them: D learns to score fakes as real.
GENERATOR_MOVES_D = """
gen = nn.Sequential(nn.Linear(6, 48), nn.ELU(), nn.Linear(48, 3))
critic = nn.Sequential(nn.Linear(3, 48), nn.ELU(), nn.Linear(48, 48), nn.ELU(), nn.Linear(48, 1))
opt = torch.optim.Adam([{"params": gen.parameters()}, {"params": critic.parameters(), "lr": 4e-4}], lr=2e-4)
for step in range(100):
    real, fake = blobs(48), gen(torch.randn(48, 6))
    loss_d = F.softplus(-critic(real)).mean() + F.softplus(critic(fake.detach())).mean()
    opt.zero_grad(); loss_d.backward(); opt.step()
    loss_g = F.softplus(-critic(fake)).mean()
    opt.zero_grad(); loss_g.backward(); opt.step()
"""

# D's loss on fakes left attached reaches the generator, which the same optimizer steps; D is frozen for
# the generator's own step, so only D's loss crosses over.
D_MOVES_GENERATOR = """
class Painter(nn.Module):
    def __init__(self):
        super().__init__(); self.fc = nn.Linear(5, 4 * 3 * 3); self.up = nn.ConvTranspose2d(4, 1, 2, stride=2)
    def forward(self, z): return torch.tanh(self.up(F.relu(self.fc(z)).view(-1, 4, 3, 3)))
class Judge(nn.Module):
    def __init__(self):
        super().__init__(); self.conv = nn.Conv2d(1, 6, 3, stride=2); self.fc = nn.Linear(6 * 2 * 2, 1)
    def forward(self, x): return self.fc(F.leaky_relu(self.conv(x), 0.2).flatten(1))
def stripes(n):
    img = -torch.ones(n, 1, 6, 6); img[:, :, :, ::2] = 1.0
    return img + 0.05 * torch.randn_like(img)
painter, judge = Painter(), Judge()
opt = torch.optim.SGD([*painter.parameters(), *judge.parameters()], lr=0.02, momentum=0.5)
bce = nn.BCEWithLogitsLoss()
for step in range(100):
    fake = painter(torch.randn(32, 5))
    out_real, out_fake = judge(stripes(32)), judge(fake)  # not detached
    loss_d = bce(out_real, torch.ones_like(out_real)) + bce(out_fake, torch.zeros_like(out_fake))
    opt.zero_grad(); loss_d.backward(); opt.step()
    judge.requires_grad_(False)
    out = judge(painter(torch.randn(32, 5)))
    loss_g = bce(out, torch.ones_like(out))
    opt.zero_grad(); loss_g.backward(); opt.step()
    judge.requires_grad_(True)
"""

# Hinge losses of both players summed: one backward, one step, D also trained by the generator's term.
SUMMED = """
G = nn.Sequential(nn.Linear(4, 32), nn.ReLU(), nn.Linear(32, 3))
D = nn.Sequential(nn.Linear(3, 32), nn.ReLU(), nn.Linear(32, 1))
opt = torch.optim.Adam(nn.ModuleList([G, D]).parameters(), lr=1e-3, betas=(0.5, 0.9))
for step in range(100):
    fake = G(torch.randn(64, 4))
    loss_d = F.relu(1 - D(blobs(64))).mean() + F.relu(1 + D(fake.detach())).mean()
    loss_g = -D(fake).mean()
    opt.zero_grad(); (loss_d + loss_g).backward(); opt.step()
"""

# The same sum stepped by one optimizer per player: D's optimizer still applies the generator's term.
SUMMED_TWO_OPTIMIZERS = SUMMED.replace(
    "opt = torch.optim.Adam(nn.ModuleList([G, D]).parameters(), lr=1e-3, betas=(0.5, 0.9))",
    "opt_g = torch.optim.Adam(G.parameters(), lr=1e-3, betas=(0.5, 0.9))\n"
    "opt_d = torch.optim.Adam(D.parameters(), lr=1e-3, betas=(0.5, 0.9))",
).replace("opt.zero_grad(); (loss_d + loss_g).backward(); opt.step()",
          "opt_g.zero_grad(); opt_d.zero_grad(); (loss_d + loss_g).backward(); opt_d.step(); opt_g.step()")

# The DCGAN loop (the discriminator's loss in two backward passes, real then fake) with one optimizer.
DCGAN = """
G = nn.Sequential(nn.Linear(4, 32), nn.ReLU(), nn.Linear(32, 3))
D = nn.Sequential(nn.Linear(3, 32), nn.LeakyReLU(0.2), nn.Linear(32, 1))
opt_g = torch.optim.Adam(G.parameters(), lr=1e-3, betas=(0.5, 0.999))
opt_d = torch.optim.Adam(D.parameters(), lr=1e-3, betas=(0.5, 0.999))
bce = nn.BCEWithLogitsLoss()
for step in range(100):
    D.zero_grad()
    out = D(blobs(64)); err_real = bce(out, torch.ones_like(out)); err_real.backward()
    fake = G(torch.randn(64, 4))
    out = D(fake.detach()); err_fake = bce(out, torch.zeros_like(out)); err_fake.backward()
    opt_d.step()
    G.zero_grad()
    out = D(fake); err_g = bce(out, torch.ones_like(out)); err_g.backward()
    opt_g.step()
"""
TWO_ADAMS = """opt_g = torch.optim.Adam(G.parameters(), lr=1e-3, betas=(0.5, 0.999))
opt_d = torch.optim.Adam(D.parameters(), lr=1e-3, betas=(0.5, 0.999))"""
ONE_ADAM = "opt_g = opt_d = torch.optim.Adam([*G.parameters(), *D.parameters()], lr=1e-3, betas=(0.5, 0.999))"

# A patch discriminator (one logit per patch) on 6x6 images, both losses summed under one optimizer.
PATCH_SUMMED = """
class Painter(nn.Module):
    def __init__(self):
        super().__init__(); self.fc = nn.Linear(5, 4 * 3 * 3); self.up = nn.ConvTranspose2d(4, 1, 2, stride=2)
    def forward(self, z): return torch.tanh(self.up(F.relu(self.fc(z)).view(-1, 4, 3, 3)))
patches = nn.Sequential(nn.Conv2d(1, 6, 3, padding=1), nn.LeakyReLU(0.2), nn.Conv2d(6, 1, 2, stride=2))
def stripes(n):
    img = -torch.ones(n, 1, 6, 6); img[:, :, :, ::2] = 1.0
    return img + 0.05 * torch.randn_like(img)
painter = Painter()
opt = torch.optim.Adam([*painter.parameters(), *patches.parameters()], lr=1e-3, betas=(0.5, 0.999))
bce = nn.BCEWithLogitsLoss()
for step in range(100):
    fake = painter(torch.randn(32, 5))
    pr, pf, pg = patches(stripes(32)), patches(fake.detach()), patches(fake)
    loss = bce(pr, torch.ones_like(pr)) + bce(pf, torch.zeros_like(pf)) + bce(pg, torch.ones_like(pg))
    opt.zero_grad(); loss.backward(); opt.step()
"""

BROKEN = {"patch-discriminator-losses-summed": (PATCH_SUMMED, "summed"),
          "generator-loss-moves-discriminator": (GENERATOR_MOVES_D, "the generator's loss moved the discriminator"),
          "discriminator-loss-moves-generator": (D_MOVES_GENERATOR, "the discriminator's loss"),
          "both-losses-summed": (SUMMED, "summed"),
          "both-losses-summed-two-optimizers": (SUMMED_TWO_OPTIMIZERS, "summed"),
          "dcgan-loop-one-optimizer": (DCGAN.replace(TWO_ADAMS, ONE_ADAM).replace(  # G's stale gradients would move it
                                           "D.zero_grad()", "opt_d.zero_grad()"),
                                       "the generator's loss moved the discriminator")}

HEALTHY = {
    "two-optimizers": GENERATOR_MOVES_D.replace(
        'opt = torch.optim.Adam([{"params": gen.parameters()}, {"params": critic.parameters(), "lr": 4e-4}], lr=2e-4)',
        "opt_g = torch.optim.Adam(gen.parameters(), lr=2e-4); opt_d = torch.optim.Adam(critic.parameters(), lr=4e-4)",
    ).replace("opt.zero_grad(); loss_d.backward(); opt.step()", "opt_d.zero_grad(); loss_d.backward(); opt_d.step()"
    ).replace("opt.zero_grad(); loss_g.backward(); opt.step()", "opt_g.zero_grad(); loss_g.backward(); opt_g.step()"),
    "one-optimizer-discriminator-frozen": GENERATOR_MOVES_D.replace(
        "    loss_g = F.softplus(-critic(fake)).mean()\n    opt.zero_grad(); loss_g.backward(); opt.step()\n",
        "    critic.requires_grad_(False)\n    loss_g = F.softplus(-critic(fake)).mean()\n"
        "    opt.zero_grad(); loss_g.backward(); opt.step()\n    critic.requires_grad_(True)\n"),
    "one-optimizer-discriminator-gradients-zeroed": GENERATOR_MOVES_D.replace(
        "opt.zero_grad(); loss_g.backward(); opt.step()",
        "opt.zero_grad(); loss_g.backward(); critic.zero_grad(); opt.step()"),
    "one-optimizer-generator-gradients-zeroed-after-attached-d-loss": D_MOVES_GENERATOR.replace(
        "opt.zero_grad(); loss_d.backward(); opt.step()",
        "opt.zero_grad(); loss_d.backward(); painter.zero_grad(set_to_none=False); opt.step()"),
    # the standard DCGAN loop: G's backward leaves gradients in D, which D's optimizer zeroes before its step
    "dcgan-loop": DCGAN,
    # at the usual DCGAN rate each player's loss stays near its balance: no experiment is called for
    "dcgan-loop-usual-learning-rate": DCGAN.replace("lr=1e-3", "lr=2e-4"),
    "autoencoder-one-optimizer": """
enc = nn.Sequential(nn.Linear(3, 16), nn.ReLU(), nn.Linear(16, 2))
dec = nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Linear(16, 3))
opt = torch.optim.Adam([*enc.parameters(), *dec.parameters()], lr=3e-3)
for step in range(100):
    x = blobs(64)
    loss = F.mse_loss(dec(enc(x)), x)
    opt.zero_grad(); loss.backward(); opt.step()
""",
    # a frozen teacher's features feed the student's head; the student's backbone is fitted on raw inputs too
    "frozen-teacher-student-one-optimizer": """
teacher = nn.Sequential(nn.Linear(3, 32), nn.ReLU(), nn.Linear(32, 8)).requires_grad_(False)
student = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 3))
backbone = nn.Linear(3, 8)
opt = torch.optim.Adam([*teacher.parameters(), *student.parameters(), *backbone.parameters()], lr=3e-3)
for step in range(100):
    x = blobs(64); y = (x[:, 0] + 1).round().long().clamp(0, 2)
    loss = F.cross_entropy(student(teacher(x)), y) + F.mse_loss(backbone(x), teacher(x))
    opt.zero_grad(); loss.backward(); opt.step()
""",
    # actor and critic heads on a shared trunk, one optimizer, one summed loss: cooperation, not a game
    "actor-critic-one-optimizer": """
trunk = nn.Sequential(nn.Linear(3, 32), nn.Tanh())
actor, critic = nn.Linear(32, 3), nn.Linear(32, 1)
opt = torch.optim.Adam([*trunk.parameters(), *actor.parameters(), *critic.parameters()], lr=1e-3)
for step in range(100):
    s = blobs(64)
    h = trunk(s)
    dist = torch.distributions.Categorical(logits=actor(h))
    a = dist.sample()
    reward = (a == (s[:, 0] + 1).round().long().clamp(0, 2)).float()
    value = critic(h).squeeze(1)
    adv = reward - value.detach()
    loss = -(dist.log_prob(a) * adv).mean() + 0.5 * F.mse_loss(value, reward) - 0.01 * dist.entropy().mean()
    opt.zero_grad(); loss.backward(); opt.step()
""",
    # SimSiam: the encoder called on two views, the predictor on each encoding, a negative cosine with
    # stop-gradient; the predictor's output is a vector, not a verdict, and both its inputs are the encoder's
    "simsiam-encoder-called-twice": """
X = torch.randn(4, 32)[torch.randint(0, 4, (1024,))] + 0.5 * torch.randn(1024, 32)
def aug(x): return x * (1 + 0.1 * torch.randn_like(x)) + 0.3 * torch.randn_like(x)
enc = nn.Sequential(nn.Linear(32, 64), nn.BatchNorm1d(64), nn.ReLU(), nn.Linear(64, 32), nn.BatchNorm1d(32))
pred = nn.Sequential(nn.Linear(32, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Linear(16, 32))
opt = torch.optim.SGD([*enc.parameters(), *pred.parameters()], lr=0.05, momentum=0.9)
def neg_cos(p, z): return -F.cosine_similarity(p, z.detach(), dim=-1).mean()
for step in range(150):
    x = X[torch.randint(0, 1024, (64,))]
    z1, z2 = enc(aug(x)), enc(aug(x))
    loss = neg_cos(pred(z1), z2) / 2 + neg_cos(pred(z2), z1) / 2
    opt.zero_grad(); loss.backward(); opt.step()
""",
    # a ranking network: one logit per item from a head on each of two encodings, BCE on their difference;
    # the head scores the encoder's outputs only (the first call's as much as the latest), never real data
    "siamese-ranking-head-per-item": """
enc = nn.Sequential(nn.Linear(3, 32), nn.ReLU(), nn.Linear(32, 16))
head = nn.Linear(16, 1)
opt = torch.optim.Adam([*enc.parameters(), *head.parameters()], lr=1e-3)
for step in range(100):
    a, b = blobs(64), blobs(64)
    z1, z2 = enc(a), enc(b)
    loss = F.binary_cross_entropy_with_logits(head(z1).squeeze(1) - head(z2).squeeze(1), (a[:, 0] > b[:, 0]).float())
    opt.zero_grad(); loss.backward(); opt.step()
""",
    # a decoder on two encodings and on their mix: the mix is built from the encoder's outputs, no real data
    "decoder-on-two-encodings-and-their-mix": """
enc = nn.Sequential(nn.Linear(3, 16), nn.ReLU(), nn.Linear(16, 4))
dec = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 1))
opt = torch.optim.Adam([*enc.parameters(), *dec.parameters()], lr=3e-3)
for step in range(150):
    x1, x2 = blobs(64), blobs(64)
    z1, z2 = enc(x1), enc(x2)
    loss = F.mse_loss(dec(z1), x1[:, 1:2]) + F.mse_loss(dec(z2), x2[:, 1:2]) + \\
        0.1 * F.mse_loss(dec((z1 + z2) / 2), (x1[:, 1:2] + x2[:, 1:2]) / 2)
    opt.zero_grad(); loss.backward(); opt.step()
""",
    # domain-adversarial training: a gradient-reversal layer makes one loss, one optimizer, the right game
    "gradient-reversal-one-optimizer": """
class Reverse(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x): return x.view_as(x)
    @staticmethod
    def backward(ctx, g): return -g
features = nn.Sequential(nn.Linear(3, 32), nn.ReLU(), nn.Linear(32, 16))
label, domain = nn.Linear(16, 3), nn.Sequential(nn.Linear(16, 16), nn.ReLU(), nn.Linear(16, 1))
opt = torch.optim.SGD([*features.parameters(), *label.parameters(), *domain.parameters()], lr=0.05)
for step in range(100):
    xs = blobs(64); ys = (xs[:, 0] + 1).round().long().clamp(0, 2); xt = blobs(64) * 1.5 + 0.3
    fs, ft = features(xs), features(xt)
    ds, dt = domain(Reverse.apply(fs)), domain(Reverse.apply(ft))
    loss = F.cross_entropy(label(fs), ys) + F.binary_cross_entropy_with_logits(ds, torch.zeros_like(ds)) + \\
        F.binary_cross_entropy_with_logits(dt, torch.ones_like(dt))
    opt.zero_grad(); loss.backward(); opt.step()
""",
}


@pytest.mark.parametrize("name", BROKEN)
def test_one_optimizer_applies_a_players_loss_to_its_opponent(run_code, name):
    source, applied = BROKEN[name]
    r = run_code(PRELUDE + source)
    assert codes(r)[:1] == ["game-shared-optimizer"], codes(r)
    f = next(f for f in r.findings if f.code == "game-shared-optimizer")
    assert f.severity == "error" and f.location.get("line")
    assert applied in f.observation and f.evidence["steps"][0]["tensors_with_gradient"]["discriminator"] > 0


@pytest.mark.parametrize("name", HEALTHY)
def test_an_optimizer_shared_without_crossing_gradients_and_cooperating_models_are_not(run_code, name):
    r = run_code(PRELUDE + HEALTHY[name])
    assert "game-shared-optimizer" not in codes(r), [(f.code, f.observation) for f in r.findings]
    assert codes(r) == [], codes(r)


def _script(tmp_path, source):
    path = tmp_path / "gan.py"
    path.write_text(textwrap.dedent(PRELUDE + source))
    return path


def test_from_the_command_line(tmp_path):
    done = subprocess.run([sys.executable, "-m", "traindoctor", "run", _script(tmp_path, SUMMED)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 1, done.stderr
    assert "✗ error    game-shared-optimizer" in done.stdout.splitlines()[2], done.stdout


def test_the_game_trains_bit_identically_under_run(tmp_path):
    """Taking the discriminator's gradient (autograd.grad before the script's backward) changes no loss."""
    path = _script(tmp_path, D_MOVES_GENERATOR.replace(
        "judge.requires_grad_(True)", "judge.requires_grad_(True); print(repr(loss_g.item()), repr(loss_d.item()))"))
    plain = subprocess.run([sys.executable, str(path)], capture_output=True, text=True, timeout=300)
    watched = subprocess.run([sys.executable, "-m", "traindoctor", "run", "--max-steps", "0", "--output",
                              tmp_path / "r.json", path], capture_output=True, text=True, timeout=300)
    assert plain.returncode == 0 and watched.returncode in (0, 1), watched.stderr
    assert watched.stdout == plain.stdout and plain.stdout.count("\n") == 100


def test_a_players_loss_that_does_not_fall_calls_for_no_experiment(run_code):
    r = run_code(PRELUDE + DCGAN.replace("lr=1e-3", "lr=2e-4"))
    experiments = r.sections["run"]["experiments"]
    assert not experiments["ran"] and "game" in experiments["why"], experiments
