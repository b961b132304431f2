"""`traindoctor run`, default configuration: gradients a backward() left must reach a step. A zero_grad()
between a backward() and the step() that should use it erases them; the parameters only that backward
reached never train — whatever the loop's shape. Loops that zero gradients they meant to throw away, or
that belong to another optimizer, are not findings."""
import pytest

from conftest import codes

PRELUDE = """
import torch, torch.nn as nn, torch.nn.functional as F
torch.manual_seed(0)
x = torch.randn(1024, 10); y = (x[:, 0] + x[:, 1] > 0).long(); r = x[:, 2:3] * 2
"""

BROKEN = {
    "zero-grad-between-two-heads": """
enc = nn.Sequential(nn.Linear(10, 32), nn.ReLU())
cls_head, reg_head = nn.Linear(32, 2), nn.Linear(32, 1)
opt = torch.optim.Adam([*enc.parameters(), *cls_head.parameters(), *reg_head.parameters()], lr=1e-2)
for step in range(60):
    i = (step * 64) % 1024
    h = enc(x[i:i + 64])
    opt.zero_grad()
    F.cross_entropy(cls_head(h), y[i:i + 64]).backward(retain_graph=True)
    opt.zero_grad()
    F.mse_loss(reg_head(h), r[i:i + 64]).backward()
    opt.step()
""",
    "zero-grad-inside-a-loop-over-tasks": """
class MultiTask(nn.Module):
    def __init__(self):
        super().__init__()
        self.trunk = nn.Sequential(nn.Linear(10, 32), nn.Tanh())
        self.heads = nn.ModuleList([nn.Linear(32, 2) for _ in range(3)])
    def forward(self, x, t):
        return self.heads[t](self.trunk(x))
model = MultiTask()
opt = torch.optim.SGD(model.parameters(), lr=0.1)
labels = [y, (x[:, 3] > 0).long(), (x[:, 4] < 0).long()]
for step in range(60):
    i = (step * 64) % 1024
    for t in range(3):
        opt.zero_grad()
        F.cross_entropy(model(x[i:i + 64], t), labels[t][i:i + 64]).backward()
    opt.step()
""",
    "module-zero-grad-after-an-auxiliary-loss": """
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(10, 32), nn.ReLU())
        self.main, self.aux = nn.Linear(32, 2), nn.Linear(32, 10)
    def forward(self, x):
        h = self.body(x)
        return self.main(h), self.aux(h)
model = Net()
opt = torch.optim.Adam(model.parameters(), lr=1e-2)
for step in range(60):
    i = (step * 64) % 1024
    logits, recon = model(x[i:i + 64])
    (0.1 * F.mse_loss(recon, x[i:i + 64])).backward(retain_graph=True)
    model.zero_grad(set_to_none=True)
    F.cross_entropy(logits, y[i:i + 64]).backward()
    opt.step()
""",
}

HEALTHY = {
    "zero-grad-after-the-step": BROKEN["zero-grad-between-two-heads"].replace(
        "    opt.zero_grad()\n    F.mse_loss", "    F.mse_loss"),
    # The input's gradient for a saliency map, thrown away on purpose before the training backward.
    "saliency-then-training": """
model = nn.Sequential(nn.Linear(10, 32), nn.ReLU(), nn.Linear(32, 2))
opt = torch.optim.Adam(model.parameters(), lr=1e-2)
for step in range(60):
    i = (step * 64) % 1024
    xb = x[i:i + 64].clone().requires_grad_(True)
    model(xb)[:, 1].sum().backward()
    saliency = xb.grad.abs().mean(0)
    model.zero_grad()
    loss = F.cross_entropy(model(x[i:i + 64]), y[i:i + 64])
    loss.backward()
    opt.step()
""",
    # A second optimizer's zero_grad between the first one's backward and step erases nothing of the first's.
    "two-optimizers-interleaved": """
a = nn.Sequential(nn.Linear(10, 16), nn.ReLU(), nn.Linear(16, 2))
b = nn.Sequential(nn.Linear(10, 16), nn.ReLU(), nn.Linear(16, 1))
opt_a, opt_b = torch.optim.Adam(a.parameters(), lr=1e-2), torch.optim.Adam(b.parameters(), lr=1e-2)
for step in range(60):
    i = (step * 64) % 1024
    opt_a.zero_grad()
    F.cross_entropy(a(x[i:i + 64]), y[i:i + 64]).backward()
    opt_b.zero_grad()
    F.mse_loss(b(x[i:i + 64]), r[i:i + 64]).backward()
    opt_a.step(); opt_b.step()
""",
    "gradient-accumulation": """
model = nn.Sequential(nn.Linear(10, 32), nn.ReLU(), nn.Linear(32, 2))
opt = torch.optim.SGD(model.parameters(), lr=0.1)
opt.zero_grad()
for step in range(160):
    i = (step * 16) % 1024
    (F.cross_entropy(model(x[i:i + 16]), y[i:i + 16]) / 4).backward()
    if step % 4 == 3:
        opt.step(); opt.zero_grad()
""",
}


@pytest.mark.parametrize("name", BROKEN)
def test_gradients_erased_before_the_step_are_named_first(run_code, name):
    report = run_code(PRELUDE + BROKEN[name])
    assert codes(report)[:1] == ["zero-grad-misplaced"], [(f.code, f.observation) for f in report.findings]
    assert "erased gradients" in report.findings[0].observation


@pytest.mark.parametrize("name", HEALTHY)
def test_zero_grads_that_erase_nothing_a_step_needed_are_not_findings(run_code, name):
    report = run_code(PRELUDE + HEALTHY[name])
    assert "zero-grad-misplaced" not in codes(report), [(f.code, f.observation) for f in report.findings]
