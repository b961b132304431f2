"""`traindoctor run` in its default configuration names two numerical root causes first — parameters an
optimizer updates in float16/bfloat16, and data far from unit scale where the first weighted layer receives
it — on differently shaped scripts, and stays quiet on their healthy look-alikes."""
import pytest

from conftest import codes

PRELUDE = """
import torch, torch.nn as nn, torch.nn.functional as F
torch.manual_seed(0)
"""

LOW_PRECISION = {
    "half-classifier-adam": """
x = torch.randn(1024, 32); y = (x @ torch.randn(32, 8)).argmax(1)
model = nn.Sequential(nn.Linear(32, 128), nn.ReLU(), nn.Linear(128, 8)).half()
opt = torch.optim.Adam(model.parameters(), lr=1e-3)
for epoch in range(3):
    for i in range(0, 1024, 64):
        loss = F.cross_entropy(model(x[i:i + 64].half()).float(), y[i:i + 64])
        opt.zero_grad(); loss.backward(); opt.step()
""",
    "bf16-regression-sgd": """
x = torch.randn(1024, 8); t = x.sum(1, keepdim=True) + 3
model = nn.Sequential(nn.Linear(8, 64), nn.Tanh(), nn.Linear(64, 1)).to(torch.bfloat16)
opt = torch.optim.SGD(model.parameters(), lr=1e-4)
for epoch in range(4):
    for i in range(0, 1024, 32):
        loss = F.mse_loss(model(x[i:i + 32].bfloat16()).float(), t[i:i + 32])
        opt.zero_grad(); loss.backward(); opt.step()
""",
    "bf16-embedding-lm-adamw": """
data = torch.randint(0, 40, (256, 17))
class LM(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb, self.rnn, self.out = nn.Embedding(40, 32), nn.GRU(32, 32, batch_first=True), nn.Linear(32, 40)
    def forward(self, ids):
        return self.out(self.rnn(self.emb(ids))[0])
model = LM().to(torch.bfloat16)
opt = torch.optim.AdamW(model.parameters(), lr=3e-4)
for epoch in range(3):
    for i in range(0, 256, 16):
        ids = data[i:i + 16]
        loss = F.cross_entropy(model(ids[:, :-1]).float().reshape(-1, 40), ids[:, 1:].reshape(-1))
        opt.zero_grad(); loss.backward(); opt.step()
""",
}

UNNORMALIZED = {
    "uint8-images-cast-inside-forward": """
images = (40 + 12 * torch.randn(512, 1, 16, 16)).clamp(0, 255)
labels = torch.randint(0, 4, (512,))
for i, k in enumerate(labels.tolist()):
    images[i, 0, 3 + 3 * k, 2:14] = 230
images = images.to(torch.uint8)
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 16, 3, padding=1); self.fc = nn.Linear(16 * 8 * 8, 4)
    def forward(self, x):
        x = x.float()                       # cast, never scaled
        return self.fc(F.max_pool2d(F.relu(self.conv(x)), 2).flatten(1))
model = Net(); opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
for epoch in range(4):
    for i in range(0, 512, 32):
        loss = F.cross_entropy(model(images[i:i + 32]), labels[i:i + 32])
        opt.zero_grad(); loss.backward(); opt.step()
""",
    "percent-features-mlp": """
x = 100 * torch.rand(1024, 6); y = (x[:, 0] > x[:, 1]).long() + (x[:, 2] > 50).long()
model = nn.Sequential(nn.Linear(6, 32), nn.ReLU(), nn.Linear(32, 3))
opt = torch.optim.SGD(model.parameters(), lr=1e-3)
for epoch in range(4):
    for i in range(0, 1024, 64):
        loss = F.cross_entropy(model(x[i:i + 64]), y[i:i + 64])
        opt.zero_grad(); loss.backward(); opt.step()
""",
    "price-series-gru": """
prices = 70 + torch.cumsum(torch.randn(512, 21, 1), 1)
class Forecast(nn.Module):
    def __init__(self):
        super().__init__()
        self.rnn = nn.GRU(1, 32, batch_first=True); self.head = nn.Linear(32, 1)
    def forward(self, x):
        return self.head(self.rnn(x)[0][:, -1])
model = Forecast(); opt = torch.optim.Adam(model.parameters(), lr=1e-3)
for epoch in range(4):
    for i in range(0, 512, 32):
        seq = prices[i:i + 32]
        loss = F.mse_loss(model(seq[:, :-1]), seq[:, -1] - seq[:, -2])
        opt.zero_grad(); loss.backward(); opt.step()
""",
}


@pytest.mark.parametrize("case,expected", [*((c, "low-precision-params") for c in LOW_PRECISION),
                                           *((c, "unnormalized-inputs") for c in UNNORMALIZED)])
def test_the_root_cause_comes_first(run_code, case, expected):
    report = run_code(PRELUDE + {**LOW_PRECISION, **UNNORMALIZED}[case])
    assert report.findings and report.findings[0].code == expected, [(f.code, f.severity) for f in report.findings]
    assert report.findings[0].explained_by is None


HEALTHY = {
    "float32-weights-under-autocast": """
x = torch.randn(1024, 32); y = (x @ torch.randn(32, 8)).argmax(1)
model = nn.Sequential(nn.Linear(32, 128), nn.ReLU(), nn.Linear(128, 8))
opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
for epoch in range(3):
    for i in range(0, 1024, 64):
        with torch.autocast("cpu", dtype=torch.bfloat16):
            out = model(x[i:i + 64])
        loss = F.cross_entropy(out.float(), y[i:i + 64])
        opt.zero_grad(); loss.backward(); opt.step()
""",
    "frozen-half-backbone": """
x = torch.randn(1024, 32); y = (x @ torch.randn(32, 8)).argmax(1)
backbone = nn.Sequential(nn.Linear(32, 64), nn.Tanh()).half().requires_grad_(False)
head = nn.Linear(64, 8)
opt = torch.optim.Adam(head.parameters(), lr=3e-3)
for epoch in range(3):
    for i in range(0, 1024, 64):
        with torch.no_grad():
            feats = backbone(x[i:i + 64].half()).float()
        loss = F.cross_entropy(head(feats), y[i:i + 64])
        opt.zero_grad(); loss.backward(); opt.step()
""",
    "float32-master-weights": """
x = torch.randn(1024, 32); y = (x @ torch.randn(32, 8)).argmax(1)
model = nn.Sequential(nn.Linear(32, 128), nn.ReLU(), nn.Linear(128, 8)).half()
master = [p.detach().float().requires_grad_() for p in model.parameters()]
opt = torch.optim.Adam(master, lr=1e-3)
for epoch in range(3):
    for i in range(0, 1024, 64):
        loss = F.cross_entropy(model(x[i:i + 64].half()).float(), y[i:i + 64])
        model.zero_grad(); opt.zero_grad(); (loss * 256).backward()
        for m, p in zip(master, model.parameters()):
            m.grad = p.grad.float() / 256
        opt.step()
        with torch.no_grad():
            for m, p in zip(master, model.parameters()):
                p.copy_(m)
""",
    "uint8-images-scaled-inside-forward": UNNORMALIZED["uint8-images-cast-inside-forward"].replace(
        "x = x.float()                       # cast, never scaled", "x = x.float() / 255"),
    "bright-float-pixels-scaled-inside-forward": UNNORMALIZED["uint8-images-cast-inside-forward"].replace(
        "(40 + 12 *", "(140 + 30 *").replace("images = images.to(torch.uint8)\n", "").replace(
        "x = x.float()                       # cast, never scaled", "x = x / 255"),
    "batchnorm-first-on-raw-features": UNNORMALIZED["percent-features-mlp"].replace(
        "nn.Sequential(nn.Linear(6, 32)", "nn.Sequential(nn.BatchNorm1d(6), nn.Linear(6, 32)").replace(
        "lr=1e-3", "lr=0.05"),
    "embedding-on-integer-ids": """
data = torch.randint(0, 40, (256, 17))
class LM(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb, self.rnn, self.out = nn.Embedding(40, 64), nn.GRU(64, 32, batch_first=True), nn.Linear(32, 40)
    def forward(self, ids):
        return self.out(self.rnn(self.emb(ids) * 8.0)[0])   # embeddings scaled by sqrt(d)
model = LM(); opt = torch.optim.Adam(model.parameters(), lr=3e-3)
for epoch in range(3):
    for i in range(0, 256, 16):
        ids = data[i:i + 16]
        loss = F.cross_entropy(model(ids[:, :-1]).reshape(-1, 40), ids[:, 1:].reshape(-1))
        opt.zero_grad(); loss.backward(); opt.step()
""",
}


@pytest.mark.parametrize("case", [c for c in HEALTHY if c != "float32-master-weights"])
def test_healthy_look_alikes_are_quiet(run_code, case):
    report = run_code(PRELUDE + HEALTHY[case])
    assert codes(report) == [], [(f.code, f.observation) for f in report.findings]


def test_a_float32_master_copy_is_not_low_precision(run_code):
    report = run_code(PRELUDE + HEALTHY["float32-master-weights"])
    assert "low-precision-params" not in codes(report)


def test_a_float32_master_weights_loop_is_quiet(run_code):
    assert codes(run_code(PRELUDE + HEALTHY["float32-master-weights"])) == []


# ── a clip that sets every step's length ─────────────────────────────────────
CLIPPED = {
    "sgd-classifier": """
x = torch.randn(2048, 20); y = (x @ torch.randn(20, 5)).argmax(1)
model = nn.Sequential(nn.Linear(20, 64), nn.ReLU(), nn.Linear(64, 5))
opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
for step in range(200):
    i = (step * 64) % 2048
    loss = F.cross_entropy(model(x[i:i + 64]), y[i:i + 64])
    opt.zero_grad(); loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=MAX_NORM)
    opt.step()
""",
    "sgd-regression": """
x = torch.randn(1024, 8); y = x[:, :3].sum(1, keepdim=True) * 2
model = nn.Sequential(nn.Linear(8, 32), nn.Tanh(), nn.Linear(32, 1))
opt = torch.optim.SGD(model.parameters(), lr=0.05)
for step in range(200):
    i = (step * 32) % 1024
    loss = F.mse_loss(model(x[i:i + 32]), y[i:i + 32])
    opt.zero_grad(); loss.backward()
    nn.utils.clip_grad_norm_(model.parameters(), MAX_NORM)
    opt.step()
""",
    "sgd-cnn": """
x = torch.rand(512, 1, 8, 8); y = (x[:, 0, :4].mean((1, 2)) > x[:, 0, 4:].mean((1, 2))).long()
model = nn.Sequential(nn.Conv2d(1, 8, 3), nn.ReLU(), nn.Flatten(), nn.Linear(8 * 36, 2))
opt = torch.optim.SGD(model.parameters(), lr=0.1)
for step in range(200):
    i = (step * 32) % 512
    loss = F.cross_entropy(model(x[i:i + 32]), y[i:i + 32])
    opt.zero_grad(); loss.backward()
    nn.utils.clip_grad_norm_(model.parameters(), max_norm=MAX_NORM)
    opt.step()
""",
}


@pytest.mark.parametrize("name", CLIPPED)
def test_a_clip_that_sets_every_step_is_named_first_when_the_loss_does_not_learn(run_code, name):
    report = run_code(PRELUDE + CLIPPED[name].replace("MAX_NORM", "1e-4"))
    assert codes(report)[:1] == ["clipping-every-step"], [(f.code, f.observation) for f in report.findings]


@pytest.mark.parametrize("name", CLIPPED)
def test_a_clip_that_cuts_spikes_is_no_warning(run_code, name):
    report = run_code(PRELUDE + CLIPPED[name].replace("MAX_NORM", "1.0"))
    assert "clipping-every-step" not in codes(report), [(f.code, f.observation) for f in report.findings]
