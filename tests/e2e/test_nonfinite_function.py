"""`traindoctor run` in its default configuration localises a non-finite loss or gradient to the function it
was born in — an exp of an unbounded output, a log or a division at 0, the derivative of a sqrt at 0 — in the
one nonfinite-forward / nonfinite-backward finding, wherever it sits (the model's forward, the loss written in
the loop), with that function's hypothesis first and its guard as the next step; and stays quiet on
look-alikes that guard the same function."""
import pytest

from conftest import codes

PRELUDE = """
import torch, torch.nn as nn, torch.nn.functional as F
torch.manual_seed(0)
"""

# name: (program, the function named, a fragment of the line it is named at)
BROKEN = {
    "poisson-exp-link": ("""
x = torch.randn(1024, 10) * 3; counts = torch.poisson(torch.exp(0.3 * x[:, :3].sum(1, keepdim=True)).clamp(max=1e4))
model = nn.Sequential(nn.Linear(10, 32), nn.ReLU(), nn.Linear(32, 1))
opt = torch.optim.SGD(model.parameters(), lr=0.05)
for epoch in range(3):
    for i in range(0, 1024, 64):
        rate = torch.exp(model(x[i:i + 64]))
        loss = (rate - counts[i:i + 64] * torch.log(rate)).mean()
        opt.zero_grad(); loss.backward(); opt.step()
""", "log", "torch.log(rate)"),
    "attention-softmax-without-max": ("""
class Attn(nn.Module):
    def __init__(self, d=32):
        super().__init__()
        self.q, self.k, self.v, self.out = nn.Linear(d, d), nn.Linear(d, d), nn.Linear(d, d), nn.Linear(d, 5)
    def forward(self, x):
        e = torch.exp(self.q(x) @ self.k(x).transpose(1, 2))
        return self.out((e / e.sum(-1, keepdim=True) @ self.v(x)).mean(1))
x = torch.randn(512, 12, 32) * 2; y = torch.randint(0, 5, (512,))
model = Attn(); opt = torch.optim.Adam(model.parameters(), lr=1e-2)
for epoch in range(4):
    for i in range(0, 512, 32):
        loss = F.cross_entropy(model(x[i:i + 32]), y[i:i + 32])
        opt.zero_grad(); loss.backward(); opt.step()
""", "exp", "torch.exp("),
    "vae-kl-exp-logvar": ("""
class VAE(nn.Module):
    def __init__(self):
        super().__init__()
        self.enc = nn.Sequential(nn.Linear(64, 128), nn.ReLU()); self.mu, self.logvar = nn.Linear(128, 8), nn.Linear(128, 8)
        self.dec = nn.Sequential(nn.Linear(8, 128), nn.ReLU(), nn.Linear(128, 64))
    def forward(self, x):
        h = self.enc(x); mu, logvar = self.mu(h), self.logvar(h)
        return self.dec(mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)), mu, logvar
x = torch.rand(1024, 64) * 20
model = VAE(); opt = torch.optim.Adam(model.parameters(), lr=0.05)
for epoch in range(2):
    for i in range(0, 1024, 64):
        recon, mu, logvar = model(x[i:i + 64])
        kl = -0.5 * (1 + logvar - mu.pow(2) - logvar.exp()).sum(1).mean()
        loss = F.mse_loss(recon, x[i:i + 64], reduction="sum") / 64 + kl
        opt.zero_grad(); loss.backward(); opt.step()
""", "exp", "logvar.exp()"),
    "hand-written-bce-on-sigmoid": ("""
x = torch.randn(1024, 20); y = (x[:, 0] > 0).float()
x[:, 1] = y * 50
model = nn.Sequential(nn.Linear(20, 32), nn.ReLU(), nn.Linear(32, 1))
opt = torch.optim.SGD(model.parameters(), lr=0.5)
for epoch in range(2):
    for i in range(0, 1024, 64):
        p = torch.sigmoid(model(x[i:i + 64])).squeeze(1)
        loss = -(y[i:i + 64] * torch.log(p) + (1 - y[i:i + 64]) * torch.log(1 - p)).mean()
        opt.zero_grad(); loss.backward(); opt.step()
""", "log", "torch.log(p)"),
    "division-by-a-zero-std": ("""
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1, self.fc2 = nn.Linear(8, 4), nn.Linear(4, 3)
    def forward(self, x):
        h = F.relu(self.fc1(x))
        return self.fc2((h - h.mean(-1, keepdim=True)) / h.std(-1, keepdim=True))
x = torch.randn(512, 8); y = torch.randint(0, 3, (512,))
model = Net(); opt = torch.optim.SGD(model.parameters(), lr=0.1)
for i in range(0, 512, 64):
    loss = F.cross_entropy(model(x[i:i + 64]), y[i:i + 64])
    opt.zero_grad(); loss.backward(); opt.step()
""", "div", "h.std("),
    "gaussian-nll-relu-variance": ("""
class Head(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(4, 64), nn.Tanh()); self.mu, self.var = nn.Linear(64, 1), nn.Linear(64, 1)
    def forward(self, x):
        h = self.body(x); return self.mu(h), F.relu(self.var(h))
x = torch.randn(512, 4); y = x[:, :1] * 3 + 0.5 * torch.randn(512, 1)
model = Head(); opt = torch.optim.Adam(model.parameters(), lr=1e-3)
for i in range(0, 512, 64):
    mu, var = model(x[i:i + 64])
    loss = (0.5 * torch.log(var) + 0.5 * (y[i:i + 64] - mu) ** 2 / var).mean()
    opt.zero_grad(); loss.backward(); opt.step()
""", "log", "torch.log(var)"),
    "pairwise-distance-sqrt-at-0": ("""
emb = nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, 8))
x = torch.randn(256, 16); labels = (x @ torch.randn(16, 4)).argmax(1)
opt = torch.optim.SGD(emb.parameters(), lr=0.05)
for i in range(0, 256, 32):
    z = emb(x[i:i + 32]); l = labels[i:i + 32]
    d = ((z[:, None] - z[None]) ** 2).sum(-1).sqrt()
    same = (l[:, None] == l[None]).float()
    loss = (same * d.pow(2) + (1 - same) * F.relu(1.0 - d).pow(2)).mean()
    opt.zero_grad(); loss.backward(); opt.step()
""", "sqrt", ".sqrt()"),
}


# Their first update is larger than the weights (SGD on counts up to 1e4; a feature at 50 with lr 0.5): the
# rate reads first and explains the NaN it drove the function to, which is still localised.
DRIVEN = {"poisson-exp-link", "hand-written-bce-on-sigmoid"}


@pytest.mark.parametrize("case", BROKEN)
def test_the_nonfinite_finding_names_the_function_that_made_it(run_code, case):
    program, function, fragment = BROKEN[case]
    source = PRELUDE + program
    report = run_code(source)
    root = next(f for f in report.findings if f.code.startswith("nonfinite-"))
    if case in DRIVEN:
        assert report.findings[0].code == "lr-too-high" and root.explained_by == "lr-too-high"
    else:
        assert root is report.findings[0] and root.explained_by is None, [(f.code, f.severity) for f in report.findings]
    assert root.evidence["function"]["name"] == function and f"`{function}`" in root.next_step
    assert fragment in source.splitlines()[root.location["line"] - 1]
    assert root.hypotheses[0].kind == "likely" and all(h.kind != "likely" for h in root.hypotheses[1:])
    assert sum(f.code.startswith("nonfinite-") for f in report.findings) == 1  # one event, one finding


def test_a_float16_overflow_of_large_activations_is_the_dtype_not_the_function(run_code):
    """A residual stream at 6e4 overflows float16 in an add: its arguments are beyond what a product can hold
    (above 256), so the function only showed it; the parameters cast to float16 read first."""
    report = run_code(PRELUDE + """
class Block(nn.Module):
    def __init__(self, d):
        super().__init__()
        self.ff = nn.Sequential(nn.Linear(d, 4 * d), nn.ReLU(), nn.Linear(4 * d, d))
    def forward(self, h):
        return h + 6 * self.ff(h)
model = nn.Sequential(nn.Linear(16, 32), *[Block(32) for _ in range(20)], nn.Linear(32, 4)).half()
x = torch.randn(256, 16) * 4; y = torch.randint(0, 4, (256,))
opt = torch.optim.SGD(model.parameters(), lr=1e-4)
for i in range(0, 256, 32):
    loss = F.cross_entropy(model(x[i:i + 32].half()).float(), y[i:i + 32])
    opt.zero_grad(); loss.backward(); opt.step()
""")
    assert codes(report)[0] == "low-precision-params"
    nan = next(f for f in report.findings if f.code.startswith("nonfinite-"))
    assert "function" not in nan.evidence and nan.explained_by == "low-precision-params"


HEALTHY = {
    "poisson-nll-on-the-log-rate": """
x = torch.randn(1024, 10) * 3; counts = torch.poisson(torch.exp(0.3 * x[:, :3].sum(1, keepdim=True)).clamp(max=1e4))
model = nn.Sequential(nn.Linear(10, 32), nn.ReLU(), nn.Linear(32, 1))
opt = torch.optim.Adam(model.parameters(), lr=1e-3)
for epoch in range(4):
    for i in range(0, 1024, 64):
        loss = F.poisson_nll_loss(model(x[i:i + 64]), counts[i:i + 64], log_input=True)
        opt.zero_grad(); loss.backward(); opt.step()
""",
    "masked-attention-with-softmax": """
class Attn(nn.Module):
    def __init__(self, d=32):
        super().__init__()
        self.q, self.k, self.v, self.out = nn.Linear(d, d), nn.Linear(d, d), nn.Linear(d, d), nn.Linear(d, 5)
    def forward(self, x, mask):
        s = (self.q(x) @ self.k(x).transpose(1, 2)) / 32 ** 0.5
        a = torch.softmax(s.masked_fill(mask[:, None, :], float("-inf")), -1)
        return self.out((a @ self.v(x)).mean(1))
x = torch.randn(512, 12, 32) * 2; y = (x[:, :4].mean(1) @ torch.randn(32, 5)).argmax(1)
mask = torch.arange(12)[None] >= torch.randint(4, 13, (512,))[:, None]
model = Attn(); opt = torch.optim.Adam(model.parameters(), lr=1e-3)
for epoch in range(8):
    for i in range(0, 512, 32):
        loss = F.cross_entropy(model(x[i:i + 32], mask[i:i + 32]), y[i:i + 32])
        opt.zero_grad(); loss.backward(); opt.step()
""",
    "vae-with-clamped-logvar": BROKEN["vae-kl-exp-logvar"][0].replace(
        "self.logvar(h)\n", "self.logvar(h).clamp(-10, 10)\n").replace("* 20\n", "\n").replace("lr=0.05", "lr=1e-3"),
    "bce-with-logits": """
x = torch.randn(1024, 20); y = (x[:, 0] > 0).float()
x[:, 1] = y * 5
model = nn.Sequential(nn.Linear(20, 32), nn.ReLU(), nn.Linear(32, 1))
opt = torch.optim.SGD(model.parameters(), lr=0.1)
for epoch in range(4):
    for i in range(0, 1024, 64):
        loss = F.binary_cross_entropy_with_logits(model(x[i:i + 64]).squeeze(1), y[i:i + 64])
        opt.zero_grad(); loss.backward(); opt.step()
""",
    "gaussian-nll-loss-softplus-variance": """
class Head(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(4, 64), nn.Tanh()); self.mu, self.var = nn.Linear(64, 1), nn.Linear(64, 1)
    def forward(self, x):
        h = self.body(x); return self.mu(h), F.softplus(self.var(h))
x = torch.randn(1024, 4); y = x[:, :1] * 3 + 0.5 * torch.randn(1024, 1)
model = Head(); opt = torch.optim.Adam(model.parameters(), lr=1e-3)
for epoch in range(4):
    for i in range(0, 1024, 64):
        mu, var = model(x[i:i + 64])
        loss = F.gaussian_nll_loss(mu, y[i:i + 64], var)
        opt.zero_grad(); loss.backward(); opt.step()
""",
    "euclidean-loss-with-eps-in-sqrt": """
x = torch.randn(1024, 16); t = x[:, :2] * 2 + x[:, 2:4]
model = nn.Sequential(nn.Linear(16, 64), nn.ReLU(), nn.Linear(64, 2))
opt = torch.optim.Adam(model.parameters(), lr=1e-3)
for epoch in range(4):
    for i in range(0, 1024, 64):
        loss = ((model(x[i:i + 64]) - t[i:i + 64]).pow(2).sum(-1) + 1e-9).sqrt().mean()
        opt.zero_grad(); loss.backward(); opt.step()
""",
}


@pytest.mark.parametrize("case", HEALTHY)
def test_guarded_look_alikes_are_quiet(run_code, case):
    report = run_code(PRELUDE + HEALTHY[case])
    assert codes(report) == [], [(f.code, f.observation) for f in report.findings]


def test_an_infinity_made_on_purpose_is_not_where_the_nan_was_born(run_code):
    """The log of a 0/1 padding mask is -inf by design and the softmax takes it back to finite values: the
    NaN that reaches the loss is born later, in the log of a sigmoid that rounded to 1."""
    source = PRELUDE + """
class Pool(nn.Module):
    def __init__(self, d=16):
        super().__init__()
        self.score, self.out = nn.Linear(d, 1), nn.Linear(d, 1)
    def forward(self, x, keep):
        s = self.score(x).squeeze(-1) + keep.float().log()
        return self.out((torch.softmax(s, -1)[..., None] * x).sum(1))
x = torch.randn(512, 10, 16); y = (x[:, 0, 0] > 0).float(); x[:, 0, 1] = y * 50
keep = torch.arange(10)[None] < torch.randint(2, 11, (512,))[:, None]
model = Pool(); opt = torch.optim.SGD(model.parameters(), lr=0.5)
for epoch in range(4):
    for i in range(0, 512, 64):
        p = torch.sigmoid(model(x[i:i + 64], keep[i:i + 64])).squeeze(1)
        loss = -(y[i:i + 64] * torch.log(p) + (1 - y[i:i + 64]) * torch.log(1 - p)).mean()
        opt.zero_grad(); loss.backward(); opt.step()
"""
    root = next(f for f in run_code(source).findings if f.code == "nonfinite-forward")
    assert root.evidence["function"]["in_loss"] and root.evidence["function"]["name"] == "log"
    assert "torch.log(p)" in source.splitlines()[root.location["line"] - 1]
