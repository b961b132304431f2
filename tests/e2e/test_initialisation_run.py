"""`traindoctor run` names an initialisation that makes a layer's units copies first — a custom init applied
with model.apply, `weight.data.fill_` in a CNN's __init__, constant recurrent gates and embedding, hidden
layers at zero (a dead path), zero weights under default biases, BatchNorm after constant layers, a conv
autoencoder initialised by self.apply — an error once the loss does not learn; and stays quiet where the
constant or zero start is by design: adaLN-Zero modulation, zero-initialised residual projections and head,
a depthwise box-blur start, ResNet's zero-init-residual, LoRA's zero B, and a zero head under a model that
holds a parameter of its own."""
import pytest

from conftest import codes

PRELUDE = """
import torch, torch.nn as nn, torch.nn.functional as F
torch.manual_seed(0)
"""

XOR_CLASSES = """
x = torch.randn(480, 10); y = (x[:, 0] * x[:, 1] > 0).long() + (x[:, 2] > 0).long()
for epoch in range(5):
    for i in range(0, 480, 40):
        loss = F.cross_entropy(model(x[i:i + 40]), y[i:i + 40])
        opt.zero_grad(); loss.backward(); opt.step()
"""

BROKEN = {
    "custom-init-via-apply": """
def init_weights(m):
    if isinstance(m, nn.Linear):
        nn.init.constant_(m.weight, 0.5); nn.init.constant_(m.bias, 0.5)
model = nn.Sequential(nn.Linear(10, 32), nn.ReLU(), nn.Linear(32, 32), nn.ReLU(), nn.Linear(32, 3))
model.apply(init_weights)
opt = torch.optim.Adam(model.parameters(), lr=1e-3)
""" + XOR_CLASSES,
    "gru-and-embedding-constant-via-apply": """
class Tagger(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb, self.gru, self.head = nn.Embedding(20, 16), nn.GRU(16, 24, batch_first=True), nn.Linear(24, 2)
    def forward(self, s):
        return self.head(self.gru(self.emb(s))[0][:, -1])
def const_init(m):
    for p in m.parameters(recurse=False):
        nn.init.constant_(p, 0.1)
model = Tagger(); model.apply(const_init)
seqs = torch.randint(0, 20, (320, 8)); y = ((seqs == 5).sum(1) > (seqs == 7).sum(1)).long()
opt = torch.optim.RMSprop(model.parameters(), lr=1e-3)
for epoch in range(3):
    for i in range(0, 320, 32):
        loss = F.cross_entropy(model(seqs[i:i + 32]), y[i:i + 32])
        opt.zero_grad(); loss.backward(); opt.step()
""",
    # tanh(0) = 0: no hidden layer's weights ever receive a gradient; only the last hidden biases move
    "zero-hidden-tanh-adam-regression": """
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.hidden = nn.ModuleList([nn.Linear(6, 24), nn.Linear(24, 24), nn.Linear(24, 24)])
        self.head = nn.Linear(24, 1)
        for layer in self.hidden:
            nn.init.zeros_(layer.weight); nn.init.zeros_(layer.bias)
    def forward(self, x):
        for layer in self.hidden:
            x = torch.tanh(layer(x))
        return self.head(x)
x = torch.randn(400, 6); t = x[:, :1] * x[:, 1:2] + torch.sin(x[:, 2:3])
model = Net(); opt = torch.optim.Adam(model.parameters(), lr=3e-3)
for epoch in range(3):
    for i in range(0, 400, 40):
        loss = F.mse_loss(model(x[i:i + 40]), t[i:i + 40])
        opt.zero_grad(); loss.backward(); opt.step()
""",
    # the biases keep their default: the units differ by bias alone, and the first layer's rows stay along one
    # direction, so the model reads its inputs through one projection
    "zero-hidden-weights-default-biases": """
model = nn.Sequential(nn.Linear(10, 32), nn.ReLU(), nn.Linear(32, 32), nn.ReLU(), nn.Linear(32, 3))
for m in list(model)[:-1]:
    if isinstance(m, nn.Linear):
        nn.init.zeros_(m.weight)
opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
""" + XOR_CLASSES,
    # BatchNorm normalises each unit alike: identical units stay identical through it
    "batchnorm-after-constant-adamw": """
model = nn.Sequential(nn.Linear(10, 32), nn.BatchNorm1d(32), nn.ReLU(), nn.Linear(32, 32), nn.BatchNorm1d(32),
                      nn.ReLU(), nn.Linear(32, 3))
for m in model.modules():
    if isinstance(m, nn.Linear):
        nn.init.constant_(m.weight, 0.05)
opt = torch.optim.AdamW(model.parameters(), lr=2e-3, weight_decay=0.01)
""" + XOR_CLASSES,
    "conv-autoencoder-init-in-constructor": """
class AE(nn.Module):
    def __init__(self):
        super().__init__()
        self.enc = nn.Sequential(nn.Conv1d(2, 8, 5, padding=2), nn.ReLU(), nn.Conv1d(8, 8, 5, stride=2, padding=2), nn.ReLU())
        self.dec = nn.Sequential(nn.ConvTranspose1d(8, 8, 4, stride=2, padding=1), nn.ReLU(), nn.Conv1d(8, 2, 5, padding=2))
        self.apply(self._init)
    @staticmethod
    def _init(m):
        if isinstance(m, (nn.Conv1d, nn.ConvTranspose1d)):
            nn.init.constant_(m.weight, 0.02); nn.init.zeros_(m.bias)
    def forward(self, x):
        return self.dec(self.enc(x))
tt = torch.linspace(0, 6.28, 16)
sig = torch.sin((1 + 2 * torch.rand(192, 2, 1)) * tt + 6.28 * torch.rand(192, 2, 1))
model = AE(); opt = torch.optim.Adam(model.parameters(), lr=2e-3)
for epoch in range(3):
    for i in range(0, 192, 32):
        loss = F.mse_loss(model(sig[i:i + 32]), sig[i:i + 32])
        opt.zero_grad(); loss.backward(); opt.step()
""",
}

# long enough (60 steps) for the loss to be judged: it does not learn, so the copies are the error
STUCK = {
    "cnn-fill-in-constructor": """
class CNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.c1, self.c2, self.fc = nn.Conv2d(1, 8, 3, padding=1), nn.Conv2d(8, 8, 3, padding=1), nn.Linear(8, 4)
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                m.weight.data.fill_(0.01); m.bias.data.fill_(0.0)
    def forward(self, x):
        return self.fc(F.relu(self.c2(F.max_pool2d(F.relu(self.c1(x)), 2))).mean((2, 3)))
imgs = torch.randn(192, 1, 8, 8); y = torch.zeros(192, dtype=torch.long)
y[imgs[:, 0, :4].mean((1, 2)) > 0] += 1; y[imgs[:, 0, :, :4].mean((1, 2)) > 0] += 2
model = CNN(); opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
for epoch in range(10):
    for i in range(0, 192, 32):
        loss = F.cross_entropy(model(imgs[i:i + 32]), y[i:i + 32])
        opt.zero_grad(); loss.backward(); opt.step()
""",
    # ReLU'(0) = 0: the zero hidden layers are a dead path, and only the head's bias learns
    "zero-hidden-relu-dead-path": """
x = torch.randn(384, 8); y = (x[:, 0] ** 2 + x[:, 1] ** 2 > 1.4).long()
model = nn.Sequential(nn.Linear(8, 24), nn.ReLU(), nn.Linear(24, 24), nn.ReLU(), nn.Linear(24, 2))
for layer in list(model)[:-1]:
    if isinstance(layer, nn.Linear):
        nn.init.zeros_(layer.weight); nn.init.zeros_(layer.bias)
opt = torch.optim.SGD(model.parameters(), lr=0.05)
for epoch in range(10):
    for i in range(0, 384, 64):
        loss = F.cross_entropy(model(x[i:i + 64]), y[i:i + 64])
        opt.zero_grad(); loss.backward(); opt.step()
""",
}

HEALTHY = {
    # DiT: the modulation (shift, scale, gate) and the head start at zero; no gradient reaches the modulation
    # at the start, and once the head moves each unit modulates its own feature
    "adaln-zero": """
class Block(nn.Module):
    def __init__(self, d):
        super().__init__()
        self.norm = nn.LayerNorm(d, elementwise_affine=False)
        self.mlp = nn.Sequential(nn.Linear(d, 2 * d), nn.GELU(), nn.Linear(2 * d, d))
        self.ada = nn.Sequential(nn.SiLU(), nn.Linear(d, 3 * d))
        nn.init.zeros_(self.ada[-1].weight); nn.init.zeros_(self.ada[-1].bias)
    def forward(self, x, c):
        shift, scale, gate = self.ada(c).unsqueeze(1).chunk(3, -1)
        return x + gate * self.mlp(self.norm(x) * (1 + scale) + shift)
class DiT(nn.Module):
    def __init__(self, d=16):
        super().__init__()
        self.inp, self.cond, self.block = nn.Linear(2, d), nn.Embedding(4, d), Block(d)
        self.final_ada, self.out = nn.Linear(d, 2 * d), nn.Linear(d, 2)
        for layer in (self.final_ada, self.out):
            nn.init.zeros_(layer.weight); nn.init.zeros_(layer.bias)
    def forward(self, x, label):
        c = self.cond(label)
        shift, scale = self.final_ada(F.silu(c)).unsqueeze(1).chunk(2, -1)
        return self.out(F.layer_norm(self.block(self.inp(x), c), (16,)) * (1 + scale) + shift)
label = torch.randint(0, 4, (192,)); x = torch.randn(192, 6, 2)
noise = torch.randn_like(x); target = noise * (1 + label.float().view(-1, 1, 1) / 4)
model = DiT(); opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
for epoch in range(4):
    for i in range(0, 192, 32):
        loss = F.mse_loss(model(x[i:i + 32] + noise[i:i + 32], label[i:i + 32]), target[i:i + 32])
        opt.zero_grad(); loss.backward(); opt.step()
""",
    # GPT-style: attention and MLP output projections and the head start at zero
    "zero-projections-and-head": """
class Block(nn.Module):
    def __init__(self, d):
        super().__init__()
        self.ln1, self.attn = nn.LayerNorm(d), nn.MultiheadAttention(d, 2, batch_first=True)
        self.ln2, self.fc, self.proj = nn.LayerNorm(d), nn.Linear(d, 2 * d), nn.Linear(2 * d, d)
        nn.init.zeros_(self.attn.out_proj.weight); nn.init.zeros_(self.proj.weight); nn.init.zeros_(self.proj.bias)
    def forward(self, x):
        a, n = self.ln1(x), x.shape[1]
        mask = torch.triu(torch.ones(n, n, dtype=torch.bool), 1)
        x = x + self.attn(a, a, a, attn_mask=mask, need_weights=False)[0]
        return x + self.proj(F.gelu(self.fc(self.ln2(x))))
class LM(nn.Module):
    def __init__(self, v=12, d=16):
        super().__init__()
        self.tok, self.block, self.ln, self.head = nn.Embedding(v, d), Block(d), nn.LayerNorm(d), nn.Linear(d, v)
        nn.init.zeros_(self.head.weight)
    def forward(self, s):
        return self.head(self.ln(self.block(self.tok(s))))
seq = torch.randint(0, 12, (192, 9)); seq[:, 1::2] = (seq[:, 0:-1:2] + 1) % 12
model = LM(); opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
for epoch in range(4):
    for i in range(0, 192, 32):
        s = seq[i:i + 32]
        loss = F.cross_entropy(model(s[:, :-1]).reshape(-1, 12), s[:, 1:].reshape(-1))
        opt.zero_grad(); loss.backward(); opt.step()
""",
    # each depthwise channel reads its own input channel: identical kernels are not copies
    "depthwise-box-blur-start": """
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem, self.dw = nn.Conv2d(3, 16, 3, padding=1), nn.Conv2d(16, 16, 3, padding=1, groups=16)
        nn.init.constant_(self.dw.weight, 1 / 9); nn.init.zeros_(self.dw.bias)
        self.pw, self.head = nn.Conv2d(16, 16, 1), nn.Linear(16, 3)
    def forward(self, x):
        return self.head(F.relu(self.pw(self.dw(F.relu(self.stem(x))))).mean((2, 3)))
imgs = torch.randn(192, 3, 8, 8); y = torch.argmax(imgs.mean((2, 3)), 1)
model = Net(); opt = torch.optim.Adam(model.parameters(), lr=3e-3)
for epoch in range(6):
    for i in range(0, 192, 32):
        loss = F.cross_entropy(model(imgs[i:i + 32]), y[i:i + 32])
        opt.zero_grad(); loss.backward(); opt.step()
""",
    # the root holds its own (steps, features) scale; the zero head's outputs are three horizons of one series,
    # alike because their targets are
    "zero-head-under-a-root-parameter": """
class Forecaster(nn.Module):
    def __init__(self):
        super().__init__()
        self.scale = nn.Parameter(torch.ones(8, 2))
        self.body, self.head = nn.Sequential(nn.Flatten(), nn.Linear(16, 32), nn.Tanh()), nn.Linear(32, 3)
        nn.init.zeros_(self.head.weight); nn.init.zeros_(self.head.bias)
    def forward(self, x):
        return self.head(self.body(x * self.scale))
tt = torch.arange(11).float(); phase = torch.rand(320, 1) * 6.28
series = (0.5 + torch.rand(320, 1)) * torch.sin(0.3 * tt + phase)
x = torch.stack([series[:, :8], torch.cos(0.3 * tt[:8] + phase)], -1); t = series[:, 8:]
model = Forecaster(); opt = torch.optim.Adam(model.parameters(), lr=3e-3)
for epoch in range(5):
    for i in range(0, 320, 40):
        loss = F.mse_loss(model(x[i:i + 40]), t[i:i + 40])
        opt.zero_grad(); loss.backward(); opt.step()
""",
    # torchvision's zero_init_residual: each block's last BatchNorm scale at zero, the classifier at zero
    "resnet-zero-init-residual": """
class Basic(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.conv1, self.bn1 = nn.Conv2d(c, c, 3, padding=1, bias=False), nn.BatchNorm2d(c)
        self.conv2, self.bn2 = nn.Conv2d(c, c, 3, padding=1, bias=False), nn.BatchNorm2d(c)
        nn.init.zeros_(self.bn2.weight)
    def forward(self, x):
        return F.relu(x + self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x))))))
model = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1, bias=False), nn.BatchNorm2d(8), nn.ReLU(), Basic(8), Basic(8),
                      nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 3))
nn.init.zeros_(model[-1].weight); nn.init.zeros_(model[-1].bias)
imgs = torch.randn(160, 3, 8, 8); y = torch.argmax(imgs.mean((2, 3)), 1)
opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
for epoch in range(4):
    for i in range(0, 160, 32):
        loss = F.cross_entropy(model(imgs[i:i + 32]), y[i:i + 32])
        opt.zero_grad(); loss.backward(); opt.step()
""",
    # LoRA adapters on frozen layers: B starts at zero after a random A
    "lora-zero-b": """
class LoRA(nn.Module):
    def __init__(self, base, r=4):
        super().__init__()
        self.base = base.requires_grad_(False)
        self.A, self.B = nn.Linear(base.in_features, r, bias=False), nn.Linear(r, base.out_features, bias=False)
        nn.init.zeros_(self.B.weight)
    def forward(self, x):
        return self.base(x) + self.B(self.A(x))
model = nn.Sequential(LoRA(nn.Linear(10, 32)), nn.ReLU(), LoRA(nn.Linear(32, 3)))
opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=5e-3)
""" + XOR_CLASSES,
}


def _shown(r):
    return [(f.code, f.severity, f.observation) for f in r.findings]


@pytest.mark.parametrize("name", BROKEN)
def test_copies_made_by_the_initialisation_are_named_first(run_code, name):
    r = run_code(PRELUDE + BROKEN[name])
    assert codes(r)[:1] == ["symmetric-units"], _shown(r)


@pytest.mark.parametrize("name", STUCK)
def test_copies_in_a_run_that_does_not_learn_are_the_error(run_code, name):
    r = run_code(PRELUDE + STUCK[name])
    assert (r.findings[0].code, r.findings[0].severity) == ("symmetric-units", "error"), _shown(r)
    assert all(f.explained_by == "symmetric-units" for f in r.findings[1:] if f.severity == "error"), _shown(r)


@pytest.mark.parametrize("name", HEALTHY)
def test_constant_or_zero_starts_by_design_are_quiet(run_code, name):
    r = run_code(PRELUDE + HEALTHY[name])
    assert "symmetric-units" not in codes(r), _shown(r)
