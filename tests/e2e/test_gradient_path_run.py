"""`traindoctor run` with its defaults: weights whose path to the loss is cut inside the model are named
with the call that cuts them — three ways of cutting in three shapes of program — and weights left out of
the gradient on purpose (frozen, outside the optimizer, a stop-gradient target) are not."""
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
}

HEALTHY = {
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
}


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
