"""`traindoctor run`, default configuration: each optimizer step's loss backpropagates only through graph built
during that step. State carried to the next step with its graph (a recurrent hidden state, a running average
of the loss, a running center of the features), returned by the model or kept on it, is found whether
backward() then fails (graph freed; a saved weight modified by the step) or not (the graph grows); loops whose
graphs span several model calls within one step (gradient accumulation, a GAN's two losses, a REINFORCE
episode, a BPTT window) are not findings."""
import subprocess
import sys
import textwrap

import pytest

from conftest import ROOT, codes

PRELUDE = """
import torch, torch.nn as nn, torch.nn.functional as F
torch.manual_seed(0)
V, T, B = 10, 12, 8
data = torch.randint(0, V, (4000,))
data[1::2] = (data[0::2] + 3) % V
def batch(step):
    i = (step * T * B) % (len(data) - T * B - 1)
    chunk = data[i:i + T * B + 1]
    return chunk[:-1].view(B, T), chunk[1:].view(B, T)
"""

# Three streams in turn, each with its own state, updated by hand: a stream's state is reused three steps later.
STREAMS = """
rnn, head = nn.RNN(1, 16), nn.Linear(16, 1)
model = nn.ModuleDict({{"rnn": rnn, "head": head}})
signal = torch.sin(torch.arange(3000) * 0.1).view(-1, 3, 1)
h = {{k: torch.zeros(1, 1, 16) for k in range(3)}}
for step in range(12):
    k = step % 3
    i = step // 3 * 10
    o, h[k] = rnn(signal[i:i + 10, k:k + 1], {carry})
    loss = F.mse_loss(head(o), signal[i + 1:i + 11, k:k + 1])
    model.zero_grad(); loss.backward(retain_graph=True)
    for p in model.parameters():
        p.data -= 0.05 * p.grad
"""

BROKEN = {
    "lstm-hidden-carried": """
class LM(nn.Module):
    def __init__(self):
        super().__init__(); self.emb = nn.Embedding(V, 16); self.rnn = nn.LSTM(16, 32, batch_first=True); self.out = nn.Linear(32, V)
    def forward(self, x, h=None):
        o, h = self.rnn(self.emb(x), h); return self.out(o), h
model = LM(); opt = torch.optim.Adam(model.parameters(), 3e-3)
h = None
for step in range(40):
    x, y = batch(step)
    logits, h = model(x, h)
    loss = F.cross_entropy(logits.reshape(-1, V), y.reshape(-1))
    opt.zero_grad(); loss.backward(); opt.step()
""",
    "gru-carried-retain-graph": """
class Tagger(nn.Module):
    def __init__(self):
        super().__init__(); self.emb = nn.Embedding(V, 8); self.gru = nn.GRU(8, 24); self.head = nn.Linear(24, V)
    def forward(self, x, h):
        o, h = self.gru(self.emb(x.t()), h); return self.head(o).transpose(0, 1), h
model = Tagger(); opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
h = torch.zeros(1, B, 24)
for step in range(40):
    x, y = batch(step)
    scores, h = model(x, h)
    loss = F.cross_entropy(scores.reshape(-1, V), y.reshape(-1))
    opt.zero_grad(); loss.backward(retain_graph=True); opt.step()
""",
    # the state lives on the model, never returned: only the model's attributes show it
    "lstm-state-on-self": """
class CharRNN(nn.Module):
    def __init__(self):
        super().__init__(); self.emb = nn.Embedding(V, 16); self.lstm = nn.LSTM(16, 32, batch_first=True)
        self.out = nn.Linear(32, V); self.state = None
    def forward(self, x):
        o, self.state = self.lstm(self.emb(x), self.state)
        return self.out(o)
model = CharRNN(); opt = torch.optim.Adam(model.parameters(), 3e-3)
for step in range(40):
    x, y = batch(step)
    loss = F.cross_entropy(model(x).reshape(-1, V), y.reshape(-1))
    opt.zero_grad(); loss.backward(); opt.step()
""",
    "gru-state-in-a-buffer": """
class LM(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb, self.gru, self.out = nn.Embedding(V, 16), nn.GRU(16, 32, batch_first=True), nn.Linear(32, V)
        self.register_buffer("h", torch.zeros(1, B, 32))
    def forward(self, x):
        o, self.h = self.gru(self.emb(x), self.h)
        return self.out(o)
model = LM(); opt = torch.optim.Adam(model.parameters(), 3e-3)
for step in range(40):
    x, y = batch(step)
    loss = F.cross_entropy(model(x).reshape(-1, V), y.reshape(-1))
    opt.zero_grad(); loss.backward(); opt.step()
""",
    "cell-memories-in-a-dict-retain-graph": """
class Stacked(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb, self.head = nn.Embedding(V, 16), nn.Linear(24, V)
        self.cells = nn.ModuleList([nn.GRUCell(16, 24), nn.GRUCell(24, 24)])
        self.memory = {}
    def forward(self, x):
        h, outs = [self.memory.get(i) for i in range(2)], []
        for t in range(x.shape[1]):
            inp = self.emb(x[:, t])
            for i, cell in enumerate(self.cells):
                h[i] = inp = cell(inp, h[i])
            outs.append(self.head(inp))
        self.memory = dict(enumerate(h))
        return torch.stack(outs, 1)
model = Stacked(); opt = torch.optim.Adam(model.parameters(), 3e-3)
for step in range(40):
    x, y = batch(step)
    loss = F.cross_entropy(model(x).transpose(1, 2), y)
    opt.zero_grad(); loss.backward(retain_graph=True); opt.step()
""",
    "feature-center-ema": """
enc = nn.Sequential(nn.Linear(T, 16), nn.Tanh())
opt = torch.optim.SGD(enc.parameters(), lr=0.05)
center = torch.zeros(16)
for step in range(40):
    x, y = batch(step)
    z = enc(x.float() / V)
    center = 0.9 * center + 0.1 * z.mean(0)         # a running center of the features, kept with its graph
    loss = F.mse_loss(z[:, 0], y[:, -1].float() / V - 0.5) + 0.1 * (z - center).pow(2).mean()
    opt.zero_grad(); loss.backward(retain_graph=True); opt.step()
    if step % 10 == 0: print("loss", round(loss.item(), 6))
""",
    "loss-running-average": """
model = nn.Linear(T, 1)
opt = torch.optim.SGD(model.parameters(), lr=0.01)
avg = torch.zeros(())
for step in range(40):
    x, y = batch(step)
    loss = F.mse_loss(model(x.float() / V).squeeze(1), y[:, -1].float() / V)
    avg = 0.9 * avg + 0.1 * loss                    # meant as a smoothed loss to log
    opt.zero_grad(); (loss + 0.1 * avg).backward(retain_graph=True); opt.step()
    if step % 10 == 0: print("avg", round(avg.item(), 6))
""",
    # Nothing moves a weight's in-place version: an optimizer that writes p.data, an update by hand.
    "optimizer-writing-data": """
class DataSGD(torch.optim.Optimizer):
    def __init__(self, params, lr): super().__init__(params, dict(lr=lr))
    def step(self):
        for g in self.param_groups:
            for p in g["params"]:
                p.data.add_(p.grad.data, alpha=-g["lr"])
cell, head = nn.GRUCell(1, 16), nn.Linear(16, V)
model = nn.ModuleDict({"cell": cell, "head": head})
opt = DataSGD(model.parameters(), 0.1)
h = torch.zeros(B, 16)
for step in range(12):
    x, y = batch(step)
    h = cell(x[:, :1].float() / V, h)
    loss = F.cross_entropy(head(h), y[:, 0])
    opt.zero_grad(); loss.backward(retain_graph=True); opt.step()
""",
    "states-per-stream-updated-by-hand": STREAMS.format(carry="h[k]"),
}

HEALTHY = {
    "states-per-stream-detached-updated-by-hand": STREAMS.format(carry="h[k].detach()"),
    # retain_graph as meant: two losses on one forward, both backward()'ed, then one update by hand
    "two-losses-updated-by-hand": """
rnn, head = nn.GRU(1, 16, batch_first=True), nn.Linear(16, 1)
model = nn.ModuleDict({"rnn": rnn, "head": head})
for step in range(12):
    x, y = batch(step)
    o, _ = rnn(x.float().unsqueeze(-1) / V)
    pred = head(o).squeeze(-1)
    F.mse_loss(pred, y.float() / V).backward(retain_graph=True)
    F.l1_loss(pred[:, -1], y[:, -1].float() / V).backward()
    for p in model.parameters():
        p.data -= 0.05 * p.grad
        p.grad = None
""",
    # one optimizer over both players: the discriminator's step leaves the generator's weights (no gradient)
    # unchanged, so the fakes built before it are still valid for the generator's loss after it
    "gan-one-optimizer-fakes-reused-after-the-other-players-step": """
gen = nn.Sequential(nn.Linear(6, 32), nn.ELU(), nn.Linear(32, 3))
critic = nn.Sequential(nn.Linear(3, 32), nn.ELU(), nn.Linear(32, 1))
opt = torch.optim.Adam([*gen.parameters(), *critic.parameters()], lr=2e-4)
for step in range(40):
    real, fake = torch.randn(32, 3) + 1, gen(torch.randn(32, 6))
    loss_d = F.softplus(-critic(real)).mean() + F.softplus(critic(fake.detach())).mean()
    opt.zero_grad(); loss_d.backward(); opt.step()
    critic.requires_grad_(False)
    loss_g = F.softplus(-critic(fake)).mean()
    opt.zero_grad(); loss_g.backward(); opt.step()
    critic.requires_grad_(True)
""",
    "truncated-bptt": BROKEN["lstm-hidden-carried"].replace(
        "opt.step()\n", "opt.step()\n    h = tuple(t.detach() for t in h)\n"),
    "state-on-self-detached-each-call": BROKEN["lstm-state-on-self"].replace(
        "        o, self.state", "        self.state = self.state and tuple(s.detach() for s in self.state)\n        o, self.state"),
    "state-in-a-buffer-detached-when-stored": BROKEN["gru-state-in-a-buffer"].replace(
        "        o, self.h = self.gru(self.emb(x), self.h)", "        o, h = self.gru(self.emb(x), self.h)\n        self.h = h.detach()"),
    "cell-memories-reset-each-batch": BROKEN["cell-memories-in-a-dict-retain-graph"].replace(
        "    x, y = batch(step)", "    model.memory = {}\n    x, y = batch(step)").replace("retain_graph=True", ""),
    "gradient-accumulation": """
model = nn.Sequential(nn.Embedding(V, 16), nn.Flatten(), nn.Linear(16 * T, V))
opt = torch.optim.Adam(model.parameters(), 1e-3)
for step in range(20):
    opt.zero_grad()
    for micro in range(4):
        x, y = batch(step * 4 + micro)
        (F.cross_entropy(model(x), y[:, -1]) / 4).backward()
    opt.step()
""",
    "gan-two-losses": """
G = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 2))
D = nn.Sequential(nn.Linear(2, 16), nn.LeakyReLU(0.2), nn.Linear(16, 1))
opt_g = torch.optim.Adam(G.parameters(), 1e-3); opt_d = torch.optim.Adam(D.parameters(), 1e-3)
real_data = torch.randn(4096, 2) * 0.5 + 1
for step in range(30):
    real = real_data[(step * 64) % 4096:][:64]
    fake = G(torch.randn(64, 4))
    d_loss = F.binary_cross_entropy_with_logits(D(real), torch.ones(64, 1)) + \\
             F.binary_cross_entropy_with_logits(D(fake.detach()), torch.zeros(64, 1))
    opt_d.zero_grad(); d_loss.backward(); opt_d.step()
    g_loss = F.binary_cross_entropy_with_logits(D(fake), torch.ones(64, 1))   # fake was made before D's step
    opt_g.zero_grad(); g_loss.backward(); opt_g.step()
""",
    "reinforce-episode": """
policy = nn.Sequential(nn.Linear(4, 32), nn.Tanh(), nn.Linear(32, 2))
opt = torch.optim.Adam(policy.parameters(), 1e-2)
for episode in range(20):
    state, logps, rewards = torch.zeros(4), [], []
    for t in range(25):
        dist = torch.distributions.Categorical(logits=policy(state))
        a = dist.sample(); logps.append(dist.log_prob(a))
        rewards.append(1.0 if a.item() == int(state[0] > 0) else 0.0)
        state = torch.randn(4)
    returns = torch.tensor(rewards).flip(0).cumsum(0).flip(0)
    loss = -(torch.stack(logps) * (returns - returns.mean())).sum()
    opt.zero_grad(); loss.backward(); opt.step()
""",
    # The hidden state crosses chunks inside one step (one backward over the window), then is detached.
    "bptt-window": """
rnn, head = nn.GRU(1, 16, batch_first=True), nn.Linear(16, 1)
model = nn.ModuleDict({"rnn": rnn, "head": head})
opt = torch.optim.Adam(model.parameters(), 1e-2)
signal = torch.sin(torch.arange(2000) * 0.1).view(1, -1, 1)
h = None
for step in range(20):
    loss = 0
    for chunk in range(4):
        i = (step * 4 + chunk) * 20 % 1900
        o, h = rnn(signal[:, i:i + 20], h)
        loss = loss + F.mse_loss(head(o), signal[:, i + 1:i + 21])
    opt.zero_grad(); loss.backward(); opt.step()
    h = h.detach()
""",
}


def _line_of(source, text):
    return next(i for i, line in enumerate(textwrap.dedent(source).splitlines(), 1) if text in line)


def _carried(report):
    return next((f for f in report.findings if f.code == "state-not-detached"), None)


@pytest.mark.parametrize("name", ["lstm-hidden-carried", "gru-carried-retain-graph"])
def test_a_carried_hidden_state_explains_the_autograd_error(run_code, name):
    source = PRELUDE + BROKEN[name]
    report = run_code(source)
    assert codes(report)[:2] == ["state-not-detached", "script-error"], [(f.code, f.observation) for f in report.findings]
    found, crash = report.findings[:2]
    assert crash.explained_by == "state-not-detached"
    assert found.evidence["steps_back"] == 1 and found.evidence["built_step"] == 0
    assert found.evidence["model"] in ("LM", "Tagger")
    assert found.location["line"] == _line_of(source, "loss.backward(") == crash.location["line"]


@pytest.mark.parametrize("name, where", [("lstm-state-on-self", ".state["), ("gru-state-in-a-buffer", ".h"),
                                         ("cell-memories-in-a-dict-retain-graph", ".memory[")])
def test_a_state_kept_on_the_model_explains_the_autograd_error(run_code, name, where):
    report = run_code(PRELUDE + BROKEN[name])
    assert codes(report)[:2] == ["state-not-detached", "script-error"], [(f.code, f.observation) for f in report.findings]
    found = report.findings[0]
    assert found.evidence["held"] and found.evidence["output"].startswith(where), found.evidence
    assert f"keeps in `self{where}" in found.observation


def test_the_inplace_error_names_the_weight_the_step_modified(run_code):
    report = run_code(PRELUDE + BROKEN["gru-carried-retain-graph"])
    found = _carried(report)
    assert found.evidence["saved"]["parameters"] == ["gru.weight_hh_l0"]  # saved transposed: [24, 72]
    assert "it is gru.weight_hh_l0, modified by the optimizer's step" in found.observation
    assert found.evidence["output"] == "[1]" and found.evidence["shape"] == [1, 8, 24]


def test_the_freed_graph_error_is_quoted(run_code):
    found = _carried(run_code(PRELUDE + BROKEN["lstm-hidden-carried"]))
    assert found.evidence["error"].startswith("Trying to backward through the graph a second time")
    assert "saved" not in found.evidence and "rnn.weight_ih_l0" in found.evidence["parameters"]


@pytest.mark.parametrize("name", ["loss-running-average", "feature-center-ema", "optimizer-writing-data",
                                  "states-per-stream-updated-by-hand"])
def test_carried_state_that_does_not_crash_is_found_from_a_sampled_step(run_code, name):
    report = run_code(PRELUDE + BROKEN[name])
    assert "script-error" not in codes(report) and "state-not-detached" in codes(report)
    found = _carried(report)
    assert "error" not in found.evidence and found.evidence["step"] - found.evidence["reaches_step"] >= 2
    assert "nothing failed, and the graph grows every step" in found.observation


@pytest.mark.parametrize("name", HEALTHY)
def test_graphs_within_one_step_are_not_findings(run_code, name):
    report = run_code(PRELUDE + HEALTHY[name])
    assert "state-not-detached" not in [f.code for f in report.findings], [(f.code, f.observation) for f in report.findings]


@pytest.mark.parametrize("name", ["state-on-self-detached-each-call", "state-in-a-buffer-detached-when-stored",
                                  "cell-memories-reset-each-batch"])
def test_a_state_kept_on_the_model_is_no_nondeterministic_evaluation(run_code, name):
    report = run_code(PRELUDE + HEALTHY[name])
    assert not codes(report), [(f.code, f.observation) for f in report.findings]


# A GRU keeping its state on `self`, made for batches of 8 (state-not-detached's PRELUDE): the odd-batch probe
# sets it afresh for its 7 samples where the script sets it afresh before each batch, not where it is kept.
STATE_SIZED = """
class NextToken(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb, self.gru, self.out = nn.Embedding(V, 16), nn.GRU(16, 16, batch_first=True), nn.Linear(16, V)
        self.hidden = torch.zeros(1, B, 16)
    def forward(self, x):
        out, h = self.gru(self.emb(x), self.hidden)
        self.hidden = KEEP
        return self.out(out[:, -1])
model = NextToken(); opt = torch.optim.Adam(model.parameters(), 3e-3)
for step in range(30):
    x, y = batch(step)
    RESET
    loss = F.cross_entropy(model(x), y[:, -1])
    opt.zero_grad(); loss.backward(); opt.step()
"""


@pytest.mark.parametrize("keep,reset,broken", [("h", "model.hidden = torch.zeros(1, len(x), 16)", False),
                                               ("h.detach()", "", True)])
def test_state_set_afresh_per_batch_is_no_batch_size_assumption(run_code, keep, reset, broken):
    report = run_code(PRELUDE + STATE_SIZED.replace("KEEP", keep).replace("RESET", reset))
    assert ("batch-size-assumption" in codes(report)) == broken, [(f.code, f.observation) for f in report.findings]


def _plain(path):
    return subprocess.run([sys.executable, str(path)], cwd=ROOT, capture_output=True, text=True, timeout=300)


def _watched(path):
    return subprocess.run([sys.executable, "-m", "traindoctor", "run", str(path)], cwd=ROOT, capture_output=True,
                          text=True, timeout=300)


def test_cli_names_the_root_cause_and_leaves_the_exception_alone(tmp_path):
    path = tmp_path / "train.py"
    path.write_text(textwrap.dedent(PRELUDE + BROKEN["gru-carried-retain-graph"]))
    plain, done = _plain(path), _watched(path)
    assert done.returncode == 1, done.stderr
    text = " ".join(done.stdout.split())  # the report, unwrapped
    assert "most likely root cause: state-not-detached" in text
    assert "gru.weight_hh_l0, modified by the optimizer's step" in text
    error = plain.stderr.strip().splitlines()[-1]  # the script's own exception, as python prints it
    assert error.startswith("RuntimeError: one of the variables needed for gradient computation")
    assert " ".join(error.split()) in text  # in the report's traceback, unchanged


def test_the_losses_are_the_same_with_and_without_traindoctor(tmp_path):
    path = tmp_path / "train.py"
    path.write_text(textwrap.dedent(PRELUDE + BROKEN["loss-running-average"]))
    plain, done = _plain(path), _watched(path)
    assert "avg" in plain.stdout and done.stdout.startswith(plain.stdout)
