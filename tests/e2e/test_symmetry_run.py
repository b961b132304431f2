"""`traindoctor run` names units that started identical and that training kept alike, or that their biases
alone told apart, first — constant or zero initialisation of an MLP, a CNN's kernels, an LSTM's gates and its
embedding, a transformer's attention, a single hidden layer, a hand-written module's own matrices, plain
tensors no module holds — an error once the loss does not learn; and stays quiet on the healthy look-alikes
where something gives each unit its own gradient (a zero-initialised output layer, residual branch or gate, a
constant layer followed by a random one) or nothing has units that started identical (norm layers, a padding
row, zero biases, a layer of width 1, an added position table)."""
import pytest

from conftest import codes

PRELUDE = """
import torch, torch.nn as nn, torch.nn.functional as F
torch.manual_seed(0)
"""

CLASSES = """
x = torch.randn(480, 8); y = (x[:, 0] > 0).long() + (x[:, 1] > 0).long()
opt = torch.optim.Adam(model.parameters(), lr=3e-3)
for epoch in range(3):
    for i in range(0, 480, 40):
        loss = F.cross_entropy(model(x[i:i + 40]), y[i:i + 40])
        opt.zero_grad(); loss.backward(); opt.step()
"""

TOKENS = """
seqs = torch.randint(1, 12, (320, 8)); seqs[:, 6:] = 0; y = (seqs == 3).any(1).long()
opt = torch.optim.Adam(model.parameters(), lr=5e-3)
for epoch in range(2):
    for i in range(0, 320, 32):
        loss = F.cross_entropy(model(seqs[i:i + 32]), y[i:i + 32])
        opt.zero_grad(); loss.backward(); opt.step()
"""

IMAGES = """
imgs = torch.randn(192, 3, 8, 8); y = (imgs[:, 0].mean((1, 2)) > imgs[:, 1].mean((1, 2))).long()
opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
for epoch in range(3):
    for i in range(0, 192, 32):
        loss = F.cross_entropy(model(imgs[i:i + 32]), y[i:i + 32])
        opt.zero_grad(); loss.backward(); opt.step()
"""

SEQUENCE_MODEL = """
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb, self.body, self.out = nn.Embedding(12, 16, padding_idx=0), {body}, nn.Linear(16, 2)
{init}
    def forward(self, s):
        h = self.body(self.emb(s))
        return self.out((h[0] if isinstance(h, tuple) else h).mean(1))
model = Net()
"""

BROKEN = {
    # biases keep their random default: they separate the units too little to matter
    "mlp-constant-0.1": """
model = nn.Sequential(nn.Linear(8, 32), nn.ReLU(), nn.Linear(32, 32), nn.ReLU(), nn.Linear(32, 3))
for m in model:
    if isinstance(m, nn.Linear):
        nn.init.constant_(m.weight, 0.1)
""" + CLASSES,
    "cnn-constant-kernels": """
model = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 8, 3, padding=1), nn.ReLU(),
                      nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 2))
for m in model:
    if isinstance(m, nn.Conv2d):
        nn.init.constant_(m.weight, 0.05); nn.init.zeros_(m.bias)
""" + IMAGES,
    "lstm-and-embedding-constant": SEQUENCE_MODEL.format(
        body="nn.LSTM(16, 16, batch_first=True)",
        init="        for p in self.parameters():\n            nn.init.constant_(p, 0.02)") + TOKENS,
    "transformer-constant": SEQUENCE_MODEL.format(
        body="nn.TransformerEncoderLayer(16, 2, 32, dropout=0.0, batch_first=True)",
        init="        for p in self.body.parameters():\n            if p.dim() > 1:\n"
             "                nn.init.constant_(p, 0.05)") + TOKENS,
    # only the first layer stays symmetric: the second gets its own gradient per unit from the random head
    "one-hidden-layer-of-two": """
model = nn.Sequential(nn.Linear(8, 32), nn.ReLU(), nn.Linear(32, 32), nn.ReLU(), nn.Linear(32, 3))
nn.init.constant_(model[0].weight, 0.2); nn.init.zeros_(model[0].bias); nn.init.constant_(model[2].weight, 0.2)
""" + CLASSES,
    # Adam grows the random biases' differences until most of the change differs between units, yet with the
    # biases made equal nothing downstream tells the units apart
    "adam-moves-biased-copies-apart": """
x = torch.randn(1024, 10); y = ((x[:, 0] * x[:, 1] > 0).long() + (x[:, 2] > 0.5).long())
model = nn.Sequential(nn.Linear(10, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 3))
for m in model.modules():
    if isinstance(m, nn.Linear):
        nn.init.constant_(m.weight, 0.1)
opt = torch.optim.Adam(model.parameters(), lr=1e-3)
for step in range(200):
    i = torch.randint(0, 1024, (64,))
    loss = F.cross_entropy(model(x[i]), y[i])
    opt.zero_grad(); loss.backward(); opt.step()
""",
    # a hand-written MLP whose own matrices start constant: which dimension holds the units is not declared
    "hand-written-constant-matrices": """
class MLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.W1, self.b1 = nn.Parameter(torch.full((8, 32), 0.1)), nn.Parameter(torch.zeros(32))
        self.W2, self.b2 = nn.Parameter(torch.full((32, 3), 0.1)), nn.Parameter(torch.zeros(3))
    def forward(self, x):
        return torch.relu(x @ self.W1 + self.b1) @ self.W2 + self.b2
model = MLP()
""" + CLASSES,
    # dropout's masks differ per unit, yet leave the units' updates almost all alike
    "dropout-after-constant": """
model = nn.Sequential(nn.Linear(8, 32), nn.ReLU(), nn.Dropout(0.3), nn.Linear(32, 3))
nn.init.constant_(model[0].weight, 0.1); nn.init.zeros_(model[0].bias); nn.init.constant_(model[3].weight, 0.1)
""" + CLASSES,
}

ZEROS_REGRESSION = PRELUDE + """
x = torch.rand(500, 5) * 2 - 1; t = torch.sin(3 * x[:, :1]) + x[:, 1:2] ** 2
model = nn.Sequential(nn.Linear(5, 32), nn.Tanh(), nn.Linear(32, 32), nn.Tanh(), nn.Linear(32, 1))
for p in model.parameters():
    nn.init.zeros_(p)
opt = torch.optim.SGD(model.parameters(), lr=0.05)
for epoch in range(3):
    for i in range(0, 500, 20):
        loss = F.mse_loss(model(x[i:i + 20]), t[i:i + 20])
        opt.zero_grad(); loss.backward(); opt.step()
"""

# constant 0.5 and random biases: the hidden units differ by their bias alone, and the model reads its inputs
# through one projection; the held-out experiment then sees no benefit from the real pairing
WIDE_CONSTANT_REGRESSION = PRELUDE + """
x = torch.rand(1000, 5) * 2 - 1; t = torch.sin(3 * x[:, :1]) * x[:, 1:2] + x[:, 2:3] ** 2
model = nn.Sequential(nn.Linear(5, 64), nn.Tanh(), nn.Linear(64, 1))
for m in model:
    if isinstance(m, nn.Linear):
        nn.init.constant_(m.weight, 0.5)
opt = torch.optim.Adam(model.parameters(), lr=1e-2)
for epoch in range(10):
    for i in range(0, 1000, 100):
        loss = F.mse_loss(model(x[i:i + 100]), t[i:i + 100])
        opt.zero_grad(); loss.backward(); opt.step()
"""

HEALTHY = {
    "zero-classifier-head": """
model = nn.Sequential(nn.Linear(8, 32), nn.ReLU(), nn.Linear(32, 32), nn.ReLU(), nn.Linear(32, 3))
nn.init.zeros_(model[4].weight); nn.init.zeros_(model[4].bias)
""" + CLASSES,
    # three outputs that are nearly one target: the head's units move alike because their targets do
    "zero-head-correlated-targets": """
x = torch.randn(480, 6); base = torch.sin(2 * x[:, :1]) + x[:, 1:2]
t = torch.cat([base, 0.9 * base + 0.1 * x[:, 2:3], base - 0.2 * x[:, 3:4]], 1)
model = nn.Sequential(nn.Linear(6, 32), nn.Tanh(), nn.Linear(32, 3))
nn.init.zeros_(model[2].weight)
opt = torch.optim.Adam(model.parameters(), lr=3e-3)
for epoch in range(3):
    for i in range(0, 480, 40):
        loss = F.mse_loss(model(x[i:i + 40]), t[i:i + 40])
        opt.zero_grad(); loss.backward(); opt.step()
""",
    # a constant hidden layer followed by a random one: each unit gets its own gradient and they separate
    "constant-hidden-random-head": """
model = nn.Sequential(nn.Linear(8, 32), nn.Tanh(), nn.Linear(32, 3))
nn.init.constant_(model[0].weight, 0.1); nn.init.zeros_(model[0].bias)
""" + CLASSES,
    # ReZero/Fixup: each branch's last conv starts at zero, with BatchNorm and LayerNorm at 1 and 0
    "zero-residual-branches-and-norms": """
class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.a, self.bn, self.b = nn.Conv2d(8, 8, 3, padding=1), nn.BatchNorm2d(8), nn.Conv2d(8, 8, 3, padding=1)
        nn.init.zeros_(self.b.weight); nn.init.zeros_(self.b.bias)
    def forward(self, x):
        return x + self.b(F.relu(self.bn(self.a(x))))
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem, self.blocks = nn.Conv2d(3, 8, 3, padding=1), nn.Sequential(Block(), Block())
        self.norm, self.head = nn.LayerNorm(8), nn.Linear(8, 2)
    def forward(self, x):
        return self.head(self.norm(self.blocks(F.relu(self.stem(x))).mean((2, 3))))
model = Net()
""" + IMAGES,
    # the padding row of the embedding is zero, the recurrent biases are zero, the weights random
    "padding-row-and-zero-biases": SEQUENCE_MODEL.format(
        body="nn.GRU(16, 16, batch_first=True)",
        init="        for name, p in self.named_parameters():\n            if 'bias' in name:\n"
             "                nn.init.zeros_(p)") + TOKENS,
    # a hand-written model's own tensors that start constant by design: learned positions at zero, an adapter's
    # B at zero after a random A, a layer scale of ones
    "hand-written-zero-positions-and-adapter": """
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.inp, self.out = nn.Linear(1, 16), nn.Linear(16, 3)
        self.pos = nn.Parameter(torch.zeros(1, 8, 16))
        self.A, self.B = nn.Parameter(torch.randn(4, 16) * 0.1), nn.Parameter(torch.zeros(16, 4))
        self.gamma = nn.Parameter(torch.ones(1, 1, 16))
    def forward(self, x):
        h = self.inp(x.unsqueeze(-1)) + self.pos
        return self.out((h + self.gamma * torch.tanh((h @ self.A.T) @ self.B.T)).mean(1))
model = Net()
""" + CLASSES,
    # a highway gate starts at weight 0, bias 1 (carry everything): each gate unit scales its own feature
    "highway-gate-at-zero": """
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.inp, self.h, self.gate, self.out = nn.Linear(8, 16), nn.Linear(16, 16), nn.Linear(16, 16), nn.Linear(16, 3)
        nn.init.zeros_(self.gate.weight); nn.init.ones_(self.gate.bias)
    def forward(self, x):
        v = torch.tanh(self.inp(x)); g = torch.sigmoid(self.gate(v))
        return self.out(g * v + (1 - g) * torch.tanh(self.h(v)))
model = Net()
""" + CLASSES,
    "width-one-bottleneck": """
model = nn.Sequential(nn.Linear(8, 1), nn.Tanh(), nn.Linear(1, 3))
nn.init.constant_(model[0].weight, 0.1); nn.init.zeros_(model[2].weight)
""" + CLASSES,
}


@pytest.mark.parametrize("name", BROKEN)
def test_units_kept_identical_are_named_first(run_code, name):
    r = run_code(PRELUDE + BROKEN[name])
    assert codes(r)[:1] == ["symmetric-units"], [(f.code, f.observation) for f in r.findings]


def test_zero_initialised_layers_never_move_and_are_the_error_first(run_code):
    """All zero: the hidden layers' gradient is zero too, the output constant; the init explains the rest."""
    r = run_code(ZEROS_REGRESSION)
    first = r.findings[0]
    assert (first.code, first.severity) == ("symmetric-units", "error"), [(f.code, f.observation) for f in r.findings]
    assert "training never moved them: no gradient reached them" in first.observation
    assert all(f.explained_by == "symmetric-units" for f in r.findings[1:] if f.severity == "error")


def test_what_identical_units_make_the_experiments_see_is_explained_by_them(run_code):
    r = run_code(WIDE_CONSTANT_REGRESSION)
    assert (r.findings[0].code, r.findings[0].severity) == ("symmetric-units", "error"), [(f.code, f.observation) for f in r.findings]
    # The targets do follow the inputs: the permutation test's control (a teacher of the same identical units)
    # cannot show its power here, so decoupled is not claimed — and if it were, the units would explain it.
    assert {f.code: f.explained_by for f in r.findings}.get("labels-decoupled", "symmetric-units") == "symmetric-units"
    assert all(f.explained_by == "symmetric-units" for f in r.findings[1:] if f.severity == "error")


def test_units_told_apart_by_their_biases_alone_are_named_by_their_role(run_code):
    r = run_code(PRELUDE + BROKEN["adam-moves-biased-copies-apart"])
    record = next(p for p in r.sections["run"]["probes"] if p["name"] == "symmetry")
    assert max(record["spread"].values()) > 0.5 and record["even"] == {"0.weight": 0.0, "2.weight": 0.0}, record
    assert "nothing but their biases" in r.findings[0].observation


def test_a_model_that_still_learns_gets_a_warning(run_code):
    r = run_code(PRELUDE + BROKEN["mlp-constant-0.1"])
    assert r.findings[0].severity == "warning"
    record = next(p for p in r.sections["run"]["probes"] if p["name"] == "symmetry")
    assert set(record["layers"]) == {"0.weight", "2.weight"} and max(record["spread"].values()) < 0.5


@pytest.mark.parametrize("name", HEALTHY)
def test_healthy_look_alikes_are_quiet(run_code, name):
    source = PRELUDE + HEALTHY[name]
    r = run_code(source)
    assert "symmetric-units" not in codes(r), [(f.code, f.observation) for f in r.findings]


PLAIN_TENSORS = PRELUDE + """
x = torch.linspace(-3, 3, 256).unsqueeze(1); y = torch.sin(2 * x)
W1, W2 = torch.zeros(1, 24, requires_grad=True), torch.zeros(24, 1, requires_grad=True)
b1, b2 = torch.zeros(24, requires_grad=True), torch.zeros(1, requires_grad=True)
opt = torch.optim.Adam([W1, b1, W2, b2], lr=1e-2)
for step in range(60):
    loss = ((torch.tanh(x @ W1 + b1) @ W2 + b2 - y) ** 2).mean()
    opt.zero_grad(); loss.backward(); opt.step()
"""


def test_weights_outside_any_module_are_named_by_the_script(run_code):
    """No module holds the weights: the run itself sees they started as copies and never moved apart."""
    r = run_code(PLAIN_TENSORS)
    first = r.findings[0]
    assert (first.code, first.severity) == ("symmetric-units", "error"), [(f.code, f.observation) for f in r.findings]
    assert "`W1 (dim 1)`" in first.observation and first.source == "run"
