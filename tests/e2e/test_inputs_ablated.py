"""`traindoctor run` with its defaults: a model whose inputs never reach its output — three ways, three
shapes — is named by the ablation experiment (each sample's inputs moved to another sample leave the loss
unchanged); a model that learned little from its inputs, or whose labels do not follow them, is not."""
import pytest

from conftest import codes

PRELUDE = """
import torch, torch.nn as nn, torch.nn.functional as F
torch.manual_seed(0)
"""

IGNORED = {
    "tabular-scale-never-filled": """
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.register_buffer("scale", torch.zeros(10))    # meant to be filled from the data's std
        self.net = nn.Sequential(nn.Linear(10, 32), nn.ReLU(), nn.Linear(32, 3))
    def forward(self, x):
        return self.net(x * self.scale)
x = torch.randn(1024, 10); y = (x[:, 0] > 0).long() + (x[:, 1] > 0).long()
model = Net(); opt = torch.optim.Adam(model.parameters(), lr=1e-3)
for epoch in range(3):
    for i in range(0, 1024, 32):
        loss = F.cross_entropy(model(x[i:i + 32]), y[i:i + 32])
        opt.zero_grad(); loss.backward(); opt.step()
""",
    "lm-position-embeddings-only": """
class LM(nn.Module):
    def __init__(self, vocab=20, d=16, T=12):
        super().__init__()
        self.tok = nn.Embedding(vocab, d); self.pos = nn.Parameter(torch.randn(T, d) * 0.1)
        self.mix = nn.Linear(d, d); self.out = nn.Linear(d, vocab)
    def forward(self, idx):
        h = self.pos[: idx.shape[1]].expand(idx.shape[0], -1, -1)   # the token embeddings were never added
        return self.out(torch.tanh(self.mix(h)))
data = torch.randint(0, 20, (600, 13))
model = LM(); opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
for epoch in range(3):
    for i in range(0, 600, 24):
        chunk = data[i:i + 24]
        logits = model(chunk[:, :-1])
        loss = F.cross_entropy(logits.reshape(-1, 20), chunk[:, 1:].reshape(-1))
        opt.zero_grad(); loss.backward(); opt.step()
""",
    "dict-batch-wrong-key": """
class Head(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(8, 32), nn.ReLU(), nn.Linear(32, 1))
    def forward(self, features, mask):
        return self.net(mask).squeeze(-1)                  # the mask, not the features
feats = torch.randn(1024, 8); target = feats[:, :2].sum(1); mask = torch.ones(1024, 8)
model = Head(); opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
for epoch in range(3):
    for i in range(0, 1024, 32):
        loss = F.mse_loss(model(features=feats[i:i + 32], mask=mask[i:i + 32]), target[i:i + 32])
        opt.zero_grad(); loss.backward(); opt.step()
""",
}

HEALTHY = {
    "scale-filled": IGNORED["tabular-scale-never-filled"].replace("torch.zeros(10)", "torch.ones(10)"),
    "tokens-added": IGNORED["lm-position-embeddings-only"].replace(
        "h = self.pos[: idx.shape[1]].expand(idx.shape[0], -1, -1)", "h = self.tok(idx) + self.pos[: idx.shape[1]]"),
    "right-key": IGNORED["dict-batch-wrong-key"].replace("self.net(mask)", "self.net(features)"),
    # a GAN: every sample has the same target (ones), so moving the inputs among samples only permutes the
    # per-sample losses and leaves their mean exactly as it was — the ablation compares outputs, not the loss
    "gan-discriminator": """
G = nn.Sequential(nn.Linear(8, 32), nn.ReLU(), nn.Linear(32, 2))
D = nn.Sequential(nn.Linear(2, 32), nn.LeakyReLU(0.2), nn.Linear(32, 1), nn.Sigmoid())
opt_g = torch.optim.Adam(G.parameters(), lr=2e-3, betas=(0.5, 0.999))
opt_d = torch.optim.Adam(D.parameters(), lr=2e-3, betas=(0.5, 0.999))
bce = nn.BCELoss()
for step in range(150):
    real = torch.randn(64, 2) * 0.5 + torch.tensor([2.0, -1.0])
    fake = G(torch.randn(64, 8))
    loss_d = bce(D(real), torch.ones(64, 1)) + bce(D(fake.detach()), torch.zeros(64, 1))
    opt_d.zero_grad(); loss_d.backward(); opt_d.step()
    loss_g = bce(D(fake), torch.ones(64, 1))
    opt_g.zero_grad(); loss_g.backward(); opt_g.step()
""",
    # learned little from its inputs (slow rate): the loss still depends on them
    "slow-learner": IGNORED["tabular-scale-never-filled"].replace("torch.zeros(10)", "torch.ones(10)").replace(
        "lr=1e-3", "lr=1e-6"),
}


@pytest.mark.parametrize("name", IGNORED)
def test_inputs_that_never_reach_the_output_are_named(run_code, name):
    r = run_code(PRELUDE + IGNORED[name])
    assert "input-ignored" in codes(r)[:2], codes(r)
    f = next(f for f in r.findings if f.code == "input-ignored")
    assert f.evidence["confirmed_by"] == "experiment" and f.severity == "error"


@pytest.mark.parametrize("name", HEALTHY)
def test_inputs_that_reach_the_output_are_not(run_code, name):
    r = run_code(PRELUDE + HEALTHY[name], experiments_=True)
    assert "input-ignored" not in codes(r), codes(r)
    observation = next(o for o in r.sections["run"]["experiments"]["observations"] if o["name"] == "inputs-ablated")
    assert observation["kills"]
