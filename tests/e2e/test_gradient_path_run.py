"""`traindoctor run` with its defaults: weights whose path to the loss is cut inside the model are named
with the call that cuts them — `.detach()`, no_grad, `.data`, `.item()` rebuilt into a tensor, a distribution's
sample(), a rounding while the loss still falls — and weights left out of the gradient on purpose (frozen,
outside the optimizer, a stop-gradient target, a straight-through estimator, an EMA teacher) are not."""
import pytest

from conftest import codes

PRELUDE = """
import torch, torch.nn as nn, torch.nn.functional as F
torch.manual_seed(0)
"""

CUT = {
    "tabular-detach-in-forward": """
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(10, 32), nn.ReLU())
        self.head = nn.Linear(32, 3)
    def forward(self, x):
        return self.head(self.body(x).detach())
x = torch.randn(1024, 10); y = (x[:, 0] > 0).long() + (x[:, 1] > 0).long()
model = Net(); opt = torch.optim.Adam(model.parameters(), lr=1e-3)
for epoch in range(3):
    for i in range(0, 1024, 32):
        loss = F.cross_entropy(model(x[i:i + 32]), y[i:i + 32])
        opt.zero_grad(); loss.backward(); opt.step()
""",
    "cnn-features-under-no-grad": """
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(1, 8, 3), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.classifier = nn.Linear(8, 4)
    def forward(self, images):
        with torch.no_grad():
            f = self.features(images)
        return self.classifier(f)
images = torch.randn(512, 1, 12, 12); labels = (images[:, :, :6].mean((1, 2, 3)) > 0).long() * 2
model = Net(); opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
for epoch in range(4):
    for i in range(0, 512, 16):
        loss = nn.CrossEntropyLoss()(model(images[i:i + 16]), labels[i:i + 16])
        opt.zero_grad(); loss.backward(); opt.step()
""",
    "sequence-regression-data": """
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.rnn = nn.GRU(3, 16, batch_first=True)
        self.out = nn.Linear(16, 1)
    def forward(self, seq):
        h, _ = self.rnn(seq)
        return self.out(h[:, -1].data).squeeze(-1)
seq = torch.randn(512, 9, 3); target = seq[:, :, 0].sum(1)
model = Net(); opt = torch.optim.Adam(model.parameters(), lr=3e-3)
for epoch in range(4):
    for i in range(0, 512, 32):
        loss = F.mse_loss(model(seq[i:i + 32]), target[i:i + 32])
        opt.zero_grad(); loss.backward(); opt.step()
""",
    # A value leaves autograd as Python numbers and comes back as a new tensor: the cut is at `.item()`.
    "scale-rebuilt-from-item": """
class TwoStage(nn.Module):
    def __init__(self):
        super().__init__()
        self.scale = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 1), nn.Softplus())
        self.shape = nn.Sequential(nn.Linear(8, 16), nn.Tanh(), nn.Linear(16, 1))
    def forward(self, x):
        s = torch.tensor([[v.item()] for v in self.scale(x)])
        return s * self.shape(x)
x = torch.randn(512, 8); y = (1 + x[:, :2].abs().sum(1, keepdim=True)) * torch.tanh(x[:, 2:5].sum(1, keepdim=True))
model = TwoStage(); opt = torch.optim.Adam(model.parameters(), lr=3e-3)
for step in range(60):
    i = (step * 32) % 512
    loss = F.mse_loss(model(x[i:i + 32]), y[i:i + 32])
    opt.zero_grad(); loss.backward(); opt.step()
""",
    # The latent is drawn with sample() (under no_grad inside torch.distributions) and the KL is taken between
    # distributions: the reconstruction's path from the encoder stops at the draw.
    "vae-latent-drawn-with-sample": """
from torch.distributions import Normal, kl_divergence
class VAE(nn.Module):
    def __init__(self):
        super().__init__()
        self.enc = nn.Sequential(nn.Linear(24, 32), nn.ReLU(), nn.Linear(32, 8))
        self.dec = nn.Sequential(nn.Linear(4, 32), nn.ReLU(), nn.Linear(32, 24))
    def forward(self, x):
        mu, logvar = self.enc(x).chunk(2, -1)
        q = Normal(mu, torch.exp(0.5 * logvar))
        return self.dec(q.sample()), q
data = (torch.randn(1024, 4) @ torch.randn(4, 24) > 1.0).float()
model = VAE(); opt = torch.optim.Adam(model.parameters(), lr=1e-2)
prior = Normal(torch.zeros(4), torch.ones(4))
for step in range(60):
    x = data[(step * 32) % 1024:(step * 32) % 1024 + 32]
    logits, q = model(x)
    loss = F.binary_cross_entropy_with_logits(logits, x, reduction="sum") / len(x) + kl_divergence(q, prior).sum(-1).mean()
    opt.zero_grad(); loss.backward(); opt.step()
""",
    # The permutation test's copies share the cut: labels that look decoupled follow from it.
    "recurrent-state-detached": """
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(8, 8)
        self.lstm = nn.LSTM(8, 16, batch_first=True)
        self.head = nn.Linear(16, 2)
    def forward(self, tokens):
        _, (h, _) = self.lstm(self.embed(tokens))
        return self.head(h[-1].detach())
tokens = torch.randint(0, 8, (1024, 12))
first = torch.where(tokens == 3, torch.arange(12), 12).min(1).values
labels = (first < torch.where(tokens == 5, torch.arange(12), 12).min(1).values).long()
model = Net(); opt = torch.optim.Adam(model.parameters(), lr=5e-3)
for epoch in range(2):
    for i in range(0, 1024, 32):
        loss = F.cross_entropy(model(tokens[i:i + 32]), labels[i:i + 32])
        opt.zero_grad(); loss.backward(); opt.step()
""",
    # The round trip also standardises over the batch (samples mix), but the cut is what stops the encoder.
    "encoding-standardised-in-numpy": """
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.encoder = nn.Sequential(nn.Linear(6, 32), nn.ReLU(), nn.Linear(32, 3))
        self.head = nn.Sequential(nn.Linear(3, 16), nn.ReLU(), nn.Linear(16, 1))
    def forward(self, x):
        z = self.encoder(x).detach().numpy()
        return self.head(torch.from_numpy((z - z.mean(0)) / (z.std(0) + 1e-5)))
x = torch.randn(1024, 6); y = (x[:, 0] * x[:, 1] - x[:, 2] ** 2)[:, None]
model = Net(); opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
for step in range(120):
    i = torch.randint(0, 1024, (64,))
    loss = F.mse_loss(model(x[i]), y[i])
    opt.zero_grad(); loss.backward(); opt.step()
""",
    # The decoder learns, so the loss falls: the encoder's gradient, exactly zero at every step, calls for the
    # experiment.
    "autoencoder-code-rounded": """
class Compressor(nn.Module):
    def __init__(self):
        super().__init__()
        self.enc = nn.Sequential(nn.Linear(16, 32), nn.GELU(), nn.Linear(32, 4), nn.Tanh())
        self.dec = nn.Sequential(nn.Linear(4, 32), nn.GELU(), nn.Linear(32, 16))
    def forward(self, x):
        z = self.enc(x) * 8
        return self.dec(ROUNDED / 8)
x = torch.sin(torch.rand(1024, 3) @ torch.randn(3, 16)); model = Compressor()
opt = torch.optim.Adam(model.parameters(), lr=2e-3)
for step in range(20):
    xb = x[(step * 64) % 1024:(step * 64) % 1024 + 64]
    loss = F.mse_loss(model(xb), xb)
    opt.zero_grad(); loss.backward(); opt.step()
""".replace("ROUNDED", "torch.round(z)"),
}

HEALTHY = {
    "autoencoder-code-straight-through": CUT["autoencoder-code-rounded"].replace(
        "torch.round(z)", "z + (torch.round(z) - z).detach()"),
    "frozen-with-requires-grad": CUT["tabular-detach-in-forward"].replace(".detach()", "").replace(
        "model = Net();", "model = Net(); model.body.requires_grad_(False);"),
    "linear-probe-optimizer-on-head": CUT["cnn-features-under-no-grad"].replace(
        "torch.optim.SGD(model.parameters()", "torch.optim.SGD(model.classifier.parameters()"),
    "connected": CUT["sequence-regression-data"].replace(".data", ""),
    "td-target-detached": """
q = nn.Sequential(nn.Linear(4, 32), nn.ReLU(), nn.Linear(32, 2))
opt = torch.optim.Adam(q.parameters(), lr=1e-3)
s = torch.randn(2048, 4); a = torch.randint(0, 2, (2048,)); r = s[:, 0] * (2 * a - 1).float()
s2 = s + 0.1 * torch.randn(2048, 4)
for epoch in range(3):
    for i in range(0, 2048, 64):
        pred = q(s[i:i + 64]).gather(1, a[i:i + 64, None]).squeeze(1)
        target = r[i:i + 64] + 0.9 * q(s2[i:i + 64]).max(1).values.detach()
        loss = F.smooth_l1_loss(pred, target)
        opt.zero_grad(); loss.backward(); opt.step()
""",
    # The argmax's one-hot goes forward, the softmax's gradient comes back: a straight-through estimator.
    "gumbel-straight-through": """
class DiscreteAE(nn.Module):
    def __init__(self):
        super().__init__()
        self.enc = nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, 8))
        self.dec = nn.Sequential(nn.Linear(8, 32), nn.ReLU(), nn.Linear(32, 16))
    def forward(self, x):
        logits = self.enc(x)
        soft = ((logits - torch.log(-torch.log(torch.rand_like(logits) + 1e-9) + 1e-9)) / 0.5).softmax(-1)
        hard = F.one_hot(soft.argmax(-1), 8).float()
        return self.dec(hard - soft.detach() + soft)
data = (torch.randn(8, 16) * 2)[torch.randint(0, 8, (1024,))] + 0.3 * torch.randn(1024, 16)
model = DiscreteAE(); opt = torch.optim.Adam(model.parameters(), lr=1e-3)
for step in range(60):
    x = data[(step * 32) % 1024:(step * 32) % 1024 + 32]
    loss = F.mse_loss(model(x), x)
    opt.zero_grad(); loss.backward(); opt.step()
""",
}

# A mean teacher kept in the student's module, the optimizer built from model.parameters(): the teacher's
# weights never get a gradient (the optimizer skips them) and follow the student by an EMA.
MEAN_TEACHER = """
import copy
class MeanTeacher(nn.Module):
    def __init__(self):
        super().__init__()
        self.student = nn.Sequential(nn.Linear(10, 32), nn.ReLU(), nn.Linear(32, 2))
        self.teacher = copy.deepcopy(self.student)
    def forward(self, a, b):
        with torch.no_grad():
            t = self.teacher(b).softmax(-1)
        return self.student(a), t
x = torch.randn(1024, 10); y = (x[:, 0] + x[:, 1] > 0).long(); labeled = torch.arange(1024) % 8 == 0
model = MeanTeacher(); opt = torch.optim.Adam(model.parameters(), lr=2e-3)
for step in range(60):
    i = (step * 64) % 1024
    xb, m = x[i:i + 64], labeled[i:i + 64]
    logits, t = model(xb + 0.1 * torch.randn_like(xb), xb + 0.1 * torch.randn_like(xb))
    loss = F.cross_entropy(logits[m], y[i:i + 64][m]) + F.mse_loss(logits.softmax(-1), t)
    opt.zero_grad(); loss.backward(); opt.step()
    EMA
"""
EMA = """with torch.no_grad():
        for ps, pt in zip(model.student.parameters(), model.teacher.parameters()):
            pt.mul_(0.99).add_(0.01 * ps)"""


@pytest.mark.parametrize("name", CUT)
def test_a_cut_path_is_named_first_with_its_line(run_code, name):
    r = run_code(PRELUDE + CUT[name])
    assert codes(r)[:1] == ["graph-break"], codes(r)
    f = r.findings[0]
    assert f.evidence["confirmed_by"] == "experiment" and f.location.get("line")
    names = {o["name"] for o in r.sections["run"]["experiments"]["observations"]}
    assert {"zero-gradient-path", "descent-step"} <= names


@pytest.mark.parametrize("name", HEALTHY)
def test_gradient_left_out_on_purpose_is_not_a_cut(run_code, name):
    r = run_code(PRELUDE + HEALTHY[name], experiments_=True)
    assert "graph-break" not in codes(r) and "bad-custom-gradient" not in codes(r), codes(r)


def test_weights_the_script_updates_itself_are_neither_unused_nor_cut(run_code):
    """The teacher's weights change by the EMA although no gradient reaches them: updated on purpose. Without
    the EMA the same weights never change: a teacher that never follows, whose weights the optimizer holds
    for nothing."""
    followed = run_code(PRELUDE + MEAN_TEACHER.replace("EMA", EMA), experiments_=True)
    assert not {"graph-break", "optimizer-params-unused"} & set(codes(followed)), codes(followed)
    still = run_code(PRELUDE + MEAN_TEACHER.replace("EMA", "pass"))
    assert "optimizer-params-unused" in codes(still), codes(still)



PIPELINE = """
import warnings
warnings.filterwarnings("ignore")
x = torch.randn(512, 16); y = (torch.sin(x[:, :4].sum(1)) > 0).long()
stage1 = nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, 8))
stage2 = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 2))
opt = torch.optim.Adam([*stage1.parameters(), *stage2.parameters()], lr=2e-3)
for step in range(60):
    i = (step * 32) % 512
    loss = F.cross_entropy(stage2(torch.tensor(stage1(x[i:i + 32]))), y[i:i + 32])
    opt.zero_grad(); loss.backward(); opt.step()
"""


def test_a_loss_without_gradient_from_the_model_is_asked_about_not_trained(run_code):
    """Two models in one optimizer, the first's output rewrapped with torch.tensor() before the second: the loss
    computed from the first's output carries no gradient, so no arm can train the first; the experiments say
    that its weights move the loss (a cut path) instead of failing."""
    r = run_code(PRELUDE + PIPELINE)
    assert "optimizer-params-unused" in codes(r) and not r.sections["run"]["internal_errors"], codes(r)
    path = [o for o in r.sections["run"]["experiments"]["observations"] if o["name"] == "zero-gradient-path"]
    assert path and any(k.startswith("the path from some of the weights to the loss is cut") for k in path[0]["keeps"])


COLLATED = """
from torch.utils.data import DataLoader, TensorDataset
encoder = nn.Sequential(nn.Linear(8, 16), nn.Tanh())
head = nn.Linear(16, 2)
def collate(batch):
    x = torch.stack([b[0] for b in batch]); y = torch.stack([b[1] for b in batch])
    with torch.no_grad():
        return encoder(x), y
x = torch.randn(512, 8); y = (x[:, 0] > 0).long()
loader = DataLoader(TensorDataset(x, y), batch_size=32, shuffle=True, collate_fn=collate)
opt = torch.optim.Adam(HELD, lr=3e-3)
for epoch in range(2):
    for f, yb in loader:
        loss = F.cross_entropy(head(f), yb)
        opt.zero_grad(); loss.backward(); opt.step()
"""


@pytest.mark.parametrize("held", ["[*encoder.parameters(), *head.parameters()]", "head.parameters()"])
def test_a_model_the_optimizer_holds_run_under_no_grad_for_the_inputs_is_a_cut(run_code, held):
    """An encoder run in the DataLoader's collate_fn under no_grad: the loss is computed from its output, so its
    weights, held by the optimizer and never given a gradient, are cut — ahead of their never getting one. Left
    out of the optimizer, it is a frozen featurizer."""
    source = PRELUDE + COLLATED.replace("HELD", held)
    r = run_code(source, experiments_=False)
    if held == "head.parameters()":
        assert not {"graph-break", "optimizer-params-unused"} & set(codes(r)), codes(r)
        return
    assert codes(r)[:2] == ["graph-break", "optimizer-params-unused"], codes(r)
    line = 1 + next(i for i, text in enumerate(source.splitlines()) if "return encoder(x), y" in text)
    assert r.findings[0].location["line"] == line and "0.weight" in r.findings[0].evidence["parameters"]
