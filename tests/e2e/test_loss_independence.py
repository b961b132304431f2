"""`traindoctor run`, default configuration: samples must stay independent through the loss computed in the
training loop, not only through the model — whatever op mixes them and wherever the batch axis is."""
import pytest

from conftest import codes

PRELUDE = """
import torch, torch.nn as nn, torch.nn.functional as F
torch.manual_seed(0)
"""

POLICY_GRADIENT = """
W = torch.randn(4, 6)
policy = nn.Sequential(nn.Linear(6, 32), nn.Tanh(), nn.Linear(32, 4))
opt = torch.optim.Adam(policy.parameters(), lr=1e-2)
for it in range(60):
    x = torch.randn(128, 6)
    logits = policy(x)
    a = torch.distributions.Categorical(logits=logits).sample()
    reward = (a == (x @ W.T).argmax(1)).float()
    logp = LOGP
    loss = -(logp.gather(1, a[:, None]).squeeze(1) * ADVANTAGE).mean()
    opt.zero_grad(); loss.backward(); opt.step()
"""

# pytorch/examples' word_language_model without its nn.Module: an embedding called first (which reads (T, B)
# ids position by position, so it cannot tell the batch dim), a sequence-first LSTM and a decoder in the loop
SEPARATE_MODULES = """
V, T, B = 15, 25, 10
data = torch.randint(0, V, (3000, B))                                   # (time, batch)
emb, rnn, dec = nn.Embedding(V, 16), nn.LSTM(16, 32), nn.Linear(32, V)
opt = torch.optim.SGD([*emb.parameters(), *rnn.parameters(), *dec.parameters()], lr=0.5)
hidden = None
for step in range(40):
    x, y = data[step * T:(step + 1) * T], data[step * T + 1:(step + 1) * T + 1]
    out, hidden = rnn(emb(x), hidden)
    hidden = tuple(h.detach() for h in hidden)
    loss = F.nll_loss(SCORES.view(-1, V), y.reshape(-1))
    opt.zero_grad(); loss.backward(); opt.step()
"""

MIXING = {
    "log-softmax-over-the-batch-of-a-sequence-first-lstm": SEPARATE_MODULES.replace(
        "SCORES", "F.log_softmax(dec(out), 1)"),
    "softmax-over-the-batch": """
x = torch.randn(512, 10); y = (x[:, 0] > 0).long() + (x[:, 1] > 0).long()
model = nn.Sequential(nn.Linear(10, 32), nn.ReLU(), nn.Linear(32, 3))
opt = torch.optim.Adam(model.parameters(), lr=1e-2)
for step in range(60):
    i = (step * 32) % 512
    logits = model(x[i:i + 32])
    probs = logits.exp() / logits.exp().sum(0, keepdim=True)
    loss = -probs.gather(1, y[i:i + 32, None]).log().mean()
    opt.zero_grad(); loss.backward(); opt.step()
""",
    "outputs-standardised-over-the-batch": """
x = torch.randn(400, 6); y = x[:, :2] * 3
model = nn.Sequential(nn.Linear(6, 16), nn.Tanh(), nn.Linear(16, 2))
opt = torch.optim.SGD(model.parameters(), lr=0.05)
for step in range(60):
    i = (step * 40) % 400
    out = model(x[i:i + 40])
    out = (out - out.mean(0)) / (out.std(0) + 1e-6)
    loss = F.mse_loss(out, (y[i:i + 40] - y.mean(0)) / y.std(0))
    opt.zero_grad(); loss.backward(); opt.step()
""",
    "per-step-outputs-as-many-as-samples-standardised-over-the-batch": """
B = T = 16                                                            # (B, T) outputs: no samples-by-samples table
net = nn.Sequential(nn.Conv1d(2, 8, 3, padding=1), nn.Tanh(), nn.Conv1d(8, 1, 3, padding=1))
opt = torch.optim.Adam(net.parameters(), lr=1e-2)
for step in range(60):
    x = torch.randn(B, 2, T); y = x[:, 0] * x[:, 1]
    out = net(x).squeeze(1)
    out = (out - out.mean(0)) / (out.std(0) + 1e-6)
    loss = F.mse_loss(out, y)
    opt.zero_grad(); loss.backward(); opt.step()
""",
    "policy-gradient-log-softmax-over-the-batch": POLICY_GRADIENT.replace("LOGP", "F.log_softmax(logits, 0)").replace(
        "ADVANTAGE", "(reward - reward.mean())"),
    "sequence-first-log-softmax-over-dim-1": """
rnn = nn.LSTM(4, 12)
head = nn.Linear(12, 5)
model = nn.ModuleDict({"rnn": rnn, "head": head})
class Net(nn.Module):
    def __init__(self):
        super().__init__(); self.rnn, self.head = rnn, head
    def forward(self, x): return self.head(self.rnn(x)[0])
net = Net(); opt = torch.optim.Adam(net.parameters(), lr=1e-2)
x = torch.randn(7, 256, 4); y = torch.randint(0, 5, (7, 256))
for step in range(60):
    j = (step * 16) % 256
    out = net(x[:, j:j + 16])                                 # (time, batch, classes)
    logp = torch.log_softmax(out, dim=1)                      # over the batch, not the classes
    loss = F.nll_loss(logp.reshape(-1, 5), y[:, j:j + 16].reshape(-1))
    opt.zero_grad(); loss.backward(); opt.step()
""",
}

# A square logits table (as many classes as samples) that a loss normalises over the batch axis.
MIXING["log-softmax-over-the-batch-as-many-classes-as-samples"] = """
x = torch.randn(512, 12); y = x[:, :4].argmax(1) * 4 + x[:, 4:8].argmax(1)
model = nn.Sequential(nn.Linear(12, 32), nn.ReLU(), nn.Linear(32, 16))
opt = torch.optim.Adam(model.parameters(), lr=1e-2)
for step in range(60):
    i = (step * 16) % 512
    loss = F.nll_loss(F.log_softmax(model(x[i:i + 16]), 0), y[i:i + 16])
    opt.zero_grad(); loss.backward(); opt.step()
"""
# Contrastive tables of other shapes than B x B, written as in papers' code.
NT_XENT = """
x = torch.randn(512, 10)
enc = nn.Sequential(nn.Linear(10, 32), nn.ReLU(), nn.Linear(32, 16))
opt = torch.optim.Adam(enc.parameters(), lr=1e-3)
for step in range(60):
    i = (step * 32) % 512
    VIEWS
    z = F.normalize(z, dim=1); n = z.shape[0] // K
    sim = (z @ z.T / 0.5).masked_fill(torch.eye(K * n, dtype=torch.bool), float("-inf"))
    ids = torch.arange(n).repeat(K); positive = (ids[:, None] == ids[None, :]) & ~torch.eye(K * n, dtype=torch.bool)
    loss = -(F.log_softmax(sim, 1) * positive).sum(1).div(K - 1).mean()
    opt.zero_grad(); loss.backward(); opt.step()
"""

INDEPENDENT = {
    "a-sequence-first-lstm-after-a-position-wise-model": SEPARATE_MODULES.replace(
        "SCORES", "F.log_softmax(dec(out), -1)"),
    "nt-xent-over-two-views-concatenated-2b": NT_XENT.replace("K", "2").replace(
        "VIEWS", "z = torch.cat([enc(x[i:i + 32] + 0.1 * torch.randn(32, 10)), enc(x[i:i + 32] + 0.1 * torch.randn(32, 10))])"),
    "nt-xent-over-three-views-in-one-forward-3b": NT_XENT.replace("K", "3").replace(
        "VIEWS", "z = enc(torch.cat([x[i:i + 32] + 0.1 * torch.randn(32, 10) for _ in range(3)]))"),
    "clip-two-towers": """
class Towers(nn.Module):
    def __init__(self):
        super().__init__(); self.img = nn.Linear(12, 16); self.txt = nn.Linear(6, 16)
    def forward(self, i, t): return F.normalize(self.img(i), dim=1), F.normalize(self.txt(t), dim=1)
model = Towers(); opt = torch.optim.Adam(model.parameters(), lr=1e-3)
images, texts = torch.randn(512, 12), torch.randn(512, 6)
for step in range(60):
    i = (step * 24) % 512
    a, b = model(images[i:i + 24], texts[i:i + 24])
    sim = a @ b.T / 0.1; y = torch.arange(24)
    loss = (F.cross_entropy(sim, y) + F.cross_entropy(sim.T, y)) / 2
    opt.zero_grad(); loss.backward(); opt.step()
""",
    # Two separate models, the other tower's embeddings transposed before this one's tape begins.
    "clip-two-models-other-tower-transposed": """
img, txt = nn.Sequential(nn.Linear(12, 32), nn.ReLU(), nn.Linear(32, 16)), nn.Sequential(nn.Linear(6, 32), nn.ReLU(), nn.Linear(32, 16))
opt = torch.optim.Adam([*img.parameters(), *txt.parameters()], lr=1e-3)
images, texts = torch.randn(512, 12), torch.randn(512, 6)
for step in range(60):
    i = (step * 24) % 512
    a, b = F.normalize(img(images[i:i + 24]), dim=1), F.normalize(txt(texts[i:i + 24]), dim=1)
    sim = 10 * a @ b.t(); y = torch.arange(24)
    loss = (F.cross_entropy(sim, y) + F.cross_entropy(sim.t(), y)) / 2
    opt.zero_grad(); loss.backward(); opt.step()
""",
    "moco-queue-of-negatives": """
x = torch.randn(512, 10)
enc = nn.Sequential(nn.Linear(10, 32), nn.ReLU(), nn.Linear(32, 16))
opt = torch.optim.Adam(enc.parameters(), lr=1e-3)
queue = F.normalize(torch.randn(16, 80), dim=0)
for step in range(60):
    i = (step * 32) % 512
    q = F.normalize(enc(x[i:i + 32] + 0.1 * torch.randn(32, 10)), dim=1)
    with torch.no_grad():
        k = F.normalize(enc(x[i:i + 32] + 0.1 * torch.randn(32, 10)), dim=1)
    logits = torch.cat([(q * k).sum(1, keepdim=True), q @ queue], 1) / 0.2
    loss = F.cross_entropy(logits, torch.zeros(32, dtype=torch.long))
    opt.zero_grad(); loss.backward(); opt.step()
    queue = torch.cat([k.T, queue], 1)[:, :80]
""",
    "softmax-over-classes": MIXING["softmax-over-the-batch"].replace("sum(0, keepdim=True)", "sum(1, keepdim=True)"),
    "contrastive-in-batch-negatives": """
x = torch.randn(512, 10)
enc = nn.Sequential(nn.Linear(10, 32), nn.ReLU(), nn.Linear(32, 16))
opt = torch.optim.Adam(enc.parameters(), lr=1e-3)
for step in range(60):
    i = (step * 32) % 512
    a = F.normalize(enc(x[i:i + 32] + 0.1 * torch.randn(32, 10)), dim=1)
    b = F.normalize(enc(x[i:i + 32] + 0.1 * torch.randn(32, 10)), dim=1)
    loss = F.cross_entropy(a @ b.T / 0.1, torch.arange(32))
    opt.zero_grad(); loss.backward(); opt.step()
""",
    "masked-mean-over-positions": """
emb = nn.Embedding(20, 8); head = nn.Linear(8, 20)
class LM(nn.Module):
    def __init__(self):
        super().__init__(); self.emb, self.head = emb, head
    def forward(self, ids): return self.head(torch.tanh(self.emb(ids)))
lm = LM(); opt = torch.optim.Adam(lm.parameters(), lr=1e-2)
ids = torch.randint(1, 20, (256, 12)); mask = (torch.rand(256, 12) > 0.2).float()
for step in range(60):
    j = (step * 16) % 256
    out = lm(ids[j:j + 16])
    per = F.cross_entropy(out.reshape(-1, 20), ids[j:j + 16].roll(-1, 1).reshape(-1), reduction="none")
    m = mask[j:j + 16].reshape(-1)
    loss = (per * m).sum() / m.sum()
    opt.zero_grad(); loss.backward(); opt.step()
""",
    # The reward of each sampled action, centred or standardised over the batch, weights each sample's
    # log-probability: a statistic taken without gradient reweights samples, it does not mix them.
    "policy-gradient-batch-mean-baseline": POLICY_GRADIENT.replace("LOGP", "F.log_softmax(logits, 1)").replace(
        "ADVANTAGE", "(reward - reward.mean())"),
    "policy-gradient-normalised-advantages": POLICY_GRADIENT.replace("LOGP", "F.log_softmax(logits, 1)").replace(
        "ADVANTAGE", "(reward - reward.mean()) / (reward.std() + 1e-8)"),
    # A Gaussian policy's draw is made without gradient inside sample(): moving sample 0's mean moves its action
    # only as the script never differentiated it, and the advantages normalised from it stay as they were.
    "gaussian-policy-normalised-advantages": """
W = torch.randn(6, 2)
policy = nn.Sequential(nn.Linear(6, 32), nn.Tanh(), nn.Linear(32, 2))
opt = torch.optim.SGD(policy.parameters(), lr=3e-3, momentum=0.9)
for it in range(20):
    x = torch.randn(64, 6)
    d = torch.distributions.Normal(policy(x), 1.0)
    a = d.sample()
    reward = -((a - x @ W) ** 2).sum(1)
    loss = -(d.log_prob(a).sum(1) * (reward - reward.mean()) / (reward.std() + 1e-6)).mean()
    opt.zero_grad(); loss.backward(); opt.step()
""",
    "gan-generator-through-a-batchnorm-discriminator": """
G = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 8))
D = nn.Sequential(nn.Linear(8, 16), nn.BatchNorm1d(16), nn.LeakyReLU(0.2), nn.Linear(16, 1))
og, od = torch.optim.Adam(G.parameters(), lr=1e-3), torch.optim.Adam(D.parameters(), lr=1e-3)
real = torch.randn(1024, 8) * 0.5 + 1
for step in range(60):
    i = (step * 32) % 1024
    fake = G(torch.randn(32, 4))
    d_loss = F.binary_cross_entropy_with_logits(D(real[i:i + 32]), torch.ones(32, 1)) + \\
        F.binary_cross_entropy_with_logits(D(fake.detach()), torch.zeros(32, 1))
    od.zero_grad(); d_loss.backward(); od.step()
    g_loss = F.binary_cross_entropy_with_logits(D(fake), torch.ones(32, 1))
    og.zero_grad(); g_loss.backward(); og.step()
""",
}


@pytest.mark.parametrize("name", MIXING)
def test_a_loss_that_mixes_samples_is_named(run_code, name):
    r = run_code(PRELUDE + MIXING[name])
    assert codes(r)[:1] == ["batch-mixing"], codes(r)
    assert "in the loss" in r.findings[0].observation


@pytest.mark.parametrize("name", INDEPENDENT)
def test_losses_that_keep_samples_apart_or_compare_them_by_design(run_code, name):
    r = run_code(PRELUDE + INDEPENDENT[name])
    assert "batch-mixing" not in codes(r), codes(r)
    if name.startswith("a-sequence-first"):
        record = next(p for p in r.sections["run"]["probes"] if p["name"] == "loss-independence")
        assert record["batch"] == 10 and "along dim 0 of the model's input, not along dim 1" in record["note"], record
    if name.startswith(("nt-xent", "clip", "contrastive")):
        note = next(p for p in r.sections["run"]["probes"] if p["name"] == "loss-independence").get("note", "")
        assert "table of the outputs' samples" in note, note


# ── each target scored against its own sample's output ───────────────────────
MISALIGNED = {
    "sequence-first-output-viewed-as-batch-first": """
V, T, B = 6, 9, 16
class Net(nn.Module):
    def __init__(self):
        super().__init__(); self.rnn, self.head = nn.GRU(V, 24), nn.Linear(24, V)
    def forward(self, x): return self.head(self.rnn(x)[0])           # (T, B, V)
net = Net(); opt = torch.optim.Adam(net.parameters(), lr=1e-2)
seqs = torch.randint(0, V, (512, T + 1))
for step in range(60):
    s = seqs[(step * B) % 512:(step * B) % 512 + B]
    x = F.one_hot(s[:, :-1], V).float().transpose(0, 1)
    out = net(x).view(B, T, V)                                        # view where permute(1, 0, 2) was meant
    loss = F.cross_entropy(out.permute(0, 2, 1), s[:, 1:])
    opt.zero_grad(); loss.backward(); opt.step()
""",
    "batch-first-output-reshaped-as-time-first": """
V, T, B = 5, 7, 12
class Net(nn.Module):
    def __init__(self):
        super().__init__(); self.rnn, self.head = nn.LSTM(V, 16, batch_first=True), nn.Linear(16, V)
    def forward(self, x): return self.head(self.rnn(x)[0])           # (B, T, V)
net = Net(); opt = torch.optim.Adam(net.parameters(), lr=1e-2)
seqs = torch.randint(0, V, (480, T + 1))
for step in range(60):
    s = seqs[(step * B) % 480:(step * B) % 480 + B]
    out = net(F.one_hot(s[:, :-1], V).float()).reshape(T, B, V)       # reshape where transpose(0, 1) was meant
    loss = F.nll_loss(F.log_softmax(out, -1).permute(1, 2, 0), s[:, 1:])
    opt.zero_grad(); loss.backward(); opt.step()
""",
    "regression-targets-transposed-outputs-viewed": """
x = torch.randn(400, 6); y = torch.stack([x[:, 0] * 2, x[:, 1] - x[:, 2]], 1)
model = nn.Sequential(nn.Linear(6, 16), nn.Tanh(), nn.Linear(16, 2))
opt = torch.optim.SGD(model.parameters(), lr=0.05)
for step in range(60):
    i = (step * 20) % 400
    out = model(x[i:i + 20]).view(2, 20)                              # view where .t() was meant
    loss = F.mse_loss(out, y[i:i + 20].t())
    opt.zero_grad(); loss.backward(); opt.step()
""",
    "batch-first-logits-flattened-against-time-first-targets": """
V, T, B = 6, 9, 16
class Net(nn.Module):
    def __init__(self):
        super().__init__(); self.rnn, self.head = nn.LSTM(V, 24, batch_first=True), nn.Linear(24, V)
    def forward(self, x): return self.head(self.rnn(x)[0])           # (B, T, V)
net = Net(); opt = torch.optim.Adam(net.parameters(), lr=1e-2)
stream = torch.randint(0, V, (T + 1, 512))                            # time-first, as a corpus is batched
for step in range(60):
    s = stream[:, (step * B) % 512:(step * B) % 512 + B]              # (T + 1, B)
    logits = net(F.one_hot(s[:-1].t(), V).float())
    loss = F.cross_entropy(logits.reshape(-1, V), s[1:].contiguous().reshape(-1))  # (B*T) rows, (T*B) targets
    opt.zero_grad(); loss.backward(); opt.step()
""",
    "time-first-logits-flattened-against-batch-first-targets": """
V, T, B = 7, 8, 12
emb, head = nn.Embedding(V, 16), nn.Linear(16, V)
rnn = nn.GRU(16, 16)                                                  # sequence-first
class Net(nn.Module):
    def __init__(self):
        super().__init__(); self.emb, self.rnn, self.head = emb, rnn, head
    def forward(self, x): return self.head(self.rnn(self.emb(x).transpose(0, 1))[0])   # (T, B, V)
net = Net(); opt = torch.optim.Adam(net.parameters(), lr=1e-2)
for step in range(60):
    x = torch.randint(0, V, (B, T)); y = (x + 1) % V
    loss = F.cross_entropy(net(x).view(-1, V), y.view(-1))
    opt.zero_grad(); loss.backward(); opt.step()
""",
    "regression-flattened-against-transposed-targets": """
T, B = 6, 20
model = nn.Sequential(nn.Linear(T, 32), nn.Tanh(), nn.Linear(32, T))  # (B, T) in, (B, T) out
opt = torch.optim.Adam(model.parameters(), lr=1e-2)
for step in range(60):
    series = torch.randn(T, B).cumsum(0)                              # time-first, as the simulator emits it
    out = model(series.t())
    loss = F.mse_loss(out.reshape(-1), (2 * series).reshape(-1))
    opt.zero_grad(); loss.backward(); opt.step()
""",
    "time-first-logits-against-a-sliced-target-flattened-by-copy": """
V, T, B = 6, 8, 12
class Net(nn.Module):
    def __init__(self):
        super().__init__(); self.emb, self.rnn, self.head = nn.Embedding(V, 16), nn.GRU(16, 16, batch_first=True), nn.Linear(16, V)
    def forward(self, x): return self.head(self.rnn(self.emb(x))[0]).transpose(0, 1)   # (T, B, V)
net = Net(); opt = torch.optim.Adam(net.parameters(), lr=1e-2)
for step in range(60):
    s = torch.randint(0, V, (B, T + 1)); tags = (3 * s + 1) % V
    loss = F.cross_entropy(net(s[:, 1:]).reshape(-1, V), tags[:, 1:].flatten())   # a (B, T) slice copied flat
    opt.zero_grad(); loss.backward(); opt.step()
""",
    "time-first-targets-reshaped-where-transposed": """
V, T, B = 6, 9, 16
class Net(nn.Module):
    def __init__(self):
        super().__init__(); self.emb, self.rnn, self.head = nn.Embedding(V, 16), nn.GRU(16, 16, batch_first=True), nn.Linear(16, V)
    def forward(self, x): return self.head(self.rnn(self.emb(x))[0])   # (B, T, V)
net = Net(); opt = torch.optim.Adam(net.parameters(), lr=1e-2)
for step in range(60):
    x = torch.randint(0, V, (B, T)); tags_tb = ((2 * x + 1) % V).t().contiguous()   # stored time-first
    loss = F.cross_entropy(net(x).transpose(1, 2), tags_tb.reshape(B, T))   # reshape where .t() was meant
    opt.zero_grad(); loss.backward(); opt.step()
""",
    "hand-written-cross-entropy-time-first-logits-batch-first-labels": """
V, T, B = 7, 9, 12
class Net(nn.Module):
    def __init__(self):
        super().__init__(); self.emb, self.rnn, self.head = nn.Embedding(V, 16), nn.GRU(16, 16), nn.Linear(16, V)
    def forward(self, x): return self.head(self.rnn(self.emb(x))[0])   # (T, B) in, (T, B, V) out
net = Net(); opt = torch.optim.Adam(net.parameters(), lr=1e-2)
for step in range(60):
    x = torch.randint(0, V, (B, T)); y = (2 * x + 3) % V
    logp = F.log_softmax(net(x.t()).reshape(-1, V), -1)
    loss = -logp.gather(1, y.reshape(-1, 1)).mean()                  # (B*T) labels against (T*B) rows
    opt.zero_grad(); loss.backward(); opt.step()
""",
    "hand-written-squared-error-against-time-first-targets": """
C, T, B = 3, 10, 8
net = nn.Sequential(nn.Conv1d(C, 8, 3, padding=1), nn.Tanh(), nn.Conv1d(8, 1, 3, padding=1))
opt = torch.optim.Adam(net.parameters(), lr=1e-2)
for step in range(60):
    x = torch.randn(B, C, T); y_tb = (x[:, 0] * x[:, 1]).t().contiguous()
    loss = ((net(x).squeeze(1).reshape(-1) - y_tb.reshape(-1)) ** 2).mean()
    opt.zero_grad(); loss.backward(); opt.step()
""",
}

MISALIGNED["critic-values-batch-first-against-time-first-returns"] = """
T, B, D = 6, 16, 4
class AC(nn.Module):
    def __init__(self):
        super().__init__(); self.body, self.pi, self.v = nn.Sequential(nn.Linear(D, 32), nn.ReLU()), nn.Linear(32, 2), nn.Linear(32, 1)
    def forward(self, x):
        h = self.body(x); return self.pi(h), self.v(h).squeeze(-1)           # (B, T, 2), (B, T)
ac = AC(); opt = torch.optim.Adam(ac.parameters(), lr=3e-3); w = torch.randn(D)
for it in range(40):                                                  # short of the experiments
    obs = torch.randn(B, T, D)
    logits, v = ac(obs)
    dist = torch.distributions.Categorical(logits=logits); a = dist.sample()
    r = ((obs @ w > 0).long() == a).float()
    ret_tb = torch.zeros(T, B); g = torch.zeros(B)
    for t in reversed(range(T)):
        g = r[:, t] + 0.9 * g; ret_tb[t] = g                             # returns stored time-first
    loss = -(dist.log_prob(a) * (ret_tb.t() - v.detach())).mean() + F.mse_loss(v.reshape(-1), ret_tb.reshape(-1))
    opt.zero_grad(); loss.backward(); opt.step()
"""

ALIGNED = {
    "batch-first-logits-and-targets-flattened": MISALIGNED[
        "batch-first-logits-flattened-against-time-first-targets"].replace(
        "s[1:].contiguous().reshape(-1)", "s[1:].t().contiguous().view(-1)"),
    "time-first-logits-and-targets-flattened": MISALIGNED[
        "time-first-logits-flattened-against-batch-first-targets"].replace("y.view(-1)", "y.t().reshape(-1)"),
    "regression-both-batch-first-flattened": MISALIGNED["regression-flattened-against-transposed-targets"].replace(
        "(2 * series).reshape(-1)", "(2 * series.t()).reshape(-1)"),
    "time-first-logits-and-a-sliced-target-transposed-by-copy": MISALIGNED[
        "time-first-logits-against-a-sliced-target-flattened-by-copy"].replace(
        "tags[:, 1:].flatten()", "tags[:, 1:].t().flatten()"),
    "hand-written-cross-entropy-labels-transposed": MISALIGNED[
        "hand-written-cross-entropy-time-first-logits-batch-first-labels"].replace(
        "y.reshape(-1, 1)", "y.t().reshape(-1, 1)"),
    "hand-written-squared-error-targets-transposed": MISALIGNED[
        "hand-written-squared-error-against-time-first-targets"].replace("y_tb.reshape(-1)", "y_tb.t().reshape(-1)"),
    "per-token-loss-times-a-padding-mask": """
V, T, B = 9, 8, 12
net = nn.Sequential(nn.Embedding(V, 16), nn.Linear(16, V)); opt = torch.optim.Adam(net.parameters(), lr=1e-2)
for step in range(60):
    lens = torch.randint(3, T + 1, (B,)); mask = (torch.arange(T)[None] < lens[:, None]).float()
    x = torch.randint(1, V, (B, T)) * mask.long()
    per_token = F.cross_entropy(net(x).reshape(-1, V), ((x + 1) % V).reshape(-1), reduction="none")
    loss = (per_token * mask.reshape(-1)).sum() / mask.sum()          # the mask's sum rescales, it does not turn
    opt.zero_grad(); loss.backward(); opt.step()
""",
    "time-first-targets-transposed": MISALIGNED["time-first-targets-reshaped-where-transposed"].replace(
        "tags_tb.reshape(B, T)", "tags_tb.t()"),
    "partly-ignored-targets": """
x = torch.randn(512, 10); y = (x[:, 0] > 0).long() + 2 * (x[:, 1] > 0).long()
model = nn.Linear(10, 4); opt = torch.optim.Adam(model.parameters(), lr=1e-2)
target = y.clone(); target[::3] = -100                                 # their gradients are zero, before and after
for i in range(60):
    opt.zero_grad(); F.cross_entropy(model(x), target).backward(); opt.step()
""",
    "sequence-first-output-permuted": MISALIGNED["sequence-first-output-viewed-as-batch-first"].replace(
        "net(x).view(B, T, V)", "net(x).permute(1, 0, 2)"),
    "regression-transposed-both": MISALIGNED["regression-targets-transposed-outputs-viewed"].replace(
        "model(x[i:i + 20]).view(2, 20)", "model(x[i:i + 20]).t()"),
    "class-weighted-cross-entropy-mean": """
x = torch.randn(512, 10); y = (x[:, 0] > 0).long() + (x[:, 1] > 0.5).long()
model = nn.Sequential(nn.Linear(10, 32), nn.ReLU(), nn.Linear(32, 3))
opt = torch.optim.Adam(model.parameters(), lr=1e-2)
for step in range(60):
    i = (step * 32) % 512
    loss = F.cross_entropy(model(x[i:i + 32]), y[i:i + 32], weight=torch.tensor([1.0, 2.0, 5.0]))
    opt.zero_grad(); loss.backward(); opt.step()
""",
}


# A value computed without gradient from several samples' targets (a baseline, normalised advantages) reaches
# every sample by design: each target still meets its own sample's outputs.
ALIGNED["reward-to-go-minus-a-batch-mean-baseline-one-call-per-step"] = """
K, T, B = 3, 5, 32
policy = nn.GRUCell(K + 1, 24); head = nn.Linear(24, K)
class Step(nn.Module):
    def __init__(self):
        super().__init__(); self.cell, self.head = policy, head
    def forward(self, x, h): h = self.cell(x, h); return self.head(h), h
net = Step(); opt = torch.optim.Adam(net.parameters(), lr=1e-2)
for it in range(40):
    cue = torch.randint(0, K, (B,)); h = torch.zeros(B, 24); logps, rewards = [], []
    for t in range(T):
        x = torch.cat([F.one_hot(cue, K).float() * (t == 0), torch.full((B, 1), float(t > 0))], 1)
        logits, h = net(x, h)
        dist = torch.distributions.Categorical(logits=logits); a = dist.sample()
        logps.append(dist.log_prob(a)); rewards.append((a == cue).float() if t == T - 1 else torch.zeros(B))
    logp, rew = torch.stack(logps, 1), torch.stack(rewards, 1)          # (B, T)
    rtg = torch.flip(torch.cumsum(torch.flip(rew, [1]), 1), [1])
    loss = -((rtg - rtg.mean(0, keepdim=True)) * logp).sum(1).mean()
    opt.zero_grad(); loss.backward(); opt.step()
"""
ALIGNED["gae-advantages-normalised-over-a-time-first-rollout"] = """
T, B, D, A = 8, 16, 4, 3
class AC(nn.Module):
    def __init__(self):
        super().__init__(); self.body, self.pi, self.v = nn.Sequential(nn.Linear(D, 32), nn.Tanh()), nn.Linear(32, A), nn.Linear(32, 1)
    def forward(self, x):
        h = self.body(x); return self.pi(h), self.v(h).squeeze(-1)           # (T, B, A), (T, B)
ac = AC(); opt = torch.optim.Adam(ac.parameters(), lr=3e-3); W = torch.randn(D, A)
for it in range(40):
    obs = torch.randn(T, B, D)
    logits, v = ac(obs)
    dist = torch.distributions.Categorical(logits=logits); a = dist.sample()
    r = (a == (obs @ W).argmax(-1)).float()
    vals = v.detach(); adv = torch.zeros(T, B); gae = torch.zeros(B); nxt = torch.zeros(B)
    for t in reversed(range(T)):
        gae = r[t] + 0.95 * nxt - vals[t] + 0.95 * 0.9 * gae; adv[t] = gae; nxt = vals[t]
    ret = adv + vals
    adv = (adv - adv.mean()) / (adv.std() + 1e-8)
    loss = -(dist.log_prob(a) * adv).mean() + 0.5 * F.mse_loss(v, ret)
    opt.zero_grad(); loss.backward(); opt.step()
"""


# A view that reorders dimensions is the mechanism of the first three: it is named first, with its line.
BY_A_VIEW = {"sequence-first-output-viewed-as-batch-first", "batch-first-output-reshaped-as-time-first",
             "regression-targets-transposed-outputs-viewed", "time-first-targets-reshaped-where-transposed"}


@pytest.mark.parametrize("name", MISALIGNED)
def test_targets_scored_against_other_samples(run_code, name):
    r = run_code(PRELUDE + MISALIGNED[name])
    expected = ["layout-scrambled", "targets-misaligned"] if name in BY_A_VIEW else ["targets-misaligned"]
    assert codes(r)[:len(expected)] == expected, codes(r)


@pytest.mark.parametrize("name", ALIGNED)
def test_targets_scored_against_their_own_sample(run_code, name):
    r = run_code(PRELUDE + ALIGNED[name])
    assert "targets-misaligned" not in codes(r), codes(r)
