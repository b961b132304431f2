"""batchnorm-small-batch: batch norm in training mode whose statistics come from one sample, and the
healthy look-alikes (larger batches, frozen batch norm, per-sample norms, one sample only at evaluation,
an epoch's last short batch, a layer run once per time step)."""
import subprocess
import sys

import pytest

CODE = "batchnorm-small-batch"

IMAGES = """
import torch, torch.nn as nn, torch.nn.functional as F
torch.manual_seed(0)
def batch(n):
    y = torch.randint(0, 2, (n,)); x = torch.randn(n, 1, 8, 8) * 0.5
    x[y == 1, :, :4] += 1.0
    return x, y
def cnn(norm):
    return nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), norm, nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                         nn.Linear(8, 2))
"""


def only(report):
    return [f for f in report.findings if f.code == CODE]


# Trained on one image per step, evaluated in eval mode every `every` steps (its accuracy printed).
ONE_IMAGE = """
m = cnn(nn.BatchNorm2d(8)); opt = torch.optim.SGD(m.parameters(), 0.05)
for step in range({steps}):
    m.train(); x, y = batch(1)
    loss = F.cross_entropy(m(x), y)
    opt.zero_grad(); loss.backward(); opt.step()
    if step % {every} == 0:
        m.eval()
        with torch.no_grad():
            xv, yv = batch(64); print("val_acc", (m(xv).argmax(1) == yv).float().mean().item())
"""


def test_cnn_trained_on_single_images_and_evaluated_in_eval_mode(run_code):
    r = run_code(IMAGES + ONE_IMAGE.format(steps=60, every=20))
    f, = only(r)
    assert f.severity == "error" and r.findings[0].code == CODE  # evaluated in eval mode: the root cause
    assert f.evidence["input_shape"] == [1, 8, 8, 8] and f.evidence["elements_per_channel"] == 64
    assert f.evidence["eval_passes"] == 3 and f.location["module"] == "Sequential.1"
    assert f.hypotheses[0].kind == "likely" and "batch size is 1" in f.hypotheses[0].cause


def test_sequences_of_one_through_batchnorm1d(run_code):
    r = run_code("""
import torch, torch.nn as nn, torch.nn.functional as F
torch.manual_seed(0)
m = nn.Sequential(nn.Conv1d(4, 16, 3, padding=1), nn.BatchNorm1d(16), nn.ReLU(), nn.Conv1d(16, 1, 1))
opt = torch.optim.Adam(m.parameters(), 1e-3)
for step in range(40):
    x = torch.randn(1, 4, 50); t = x.sum(1, keepdim=True)
    opt.zero_grad(); F.mse_loss(m(x), t).backward(); opt.step()
""")
    f, = only(r)
    assert f.evidence["input_shape"] == [1, 16, 50] and f.evidence["elements_per_channel"] == 50
    assert f.evidence["one_sample_calls"] == f.evidence["sampled_calls"]


def test_model_looping_over_its_samples_runs_batchnorm1d_on_each(run_code):
    # Multiple-instance learning: each sample is a bag of 12 instances, encoded one bag at a time.
    r = run_code("""
import torch, torch.nn as nn, torch.nn.functional as F
torch.manual_seed(0)
class Bags(nn.Module):
    def __init__(self):
        super().__init__()
        self.enc = nn.Sequential(nn.Linear(6, 32), nn.BatchNorm1d(32), nn.ReLU())
        self.head = nn.Linear(32, 2)
    def forward(self, bags):                       # (N, 12, 6)
        return self.head(torch.stack([self.enc(bag).mean(0) for bag in bags]))
m = Bags(); opt = torch.optim.Adam(m.parameters(), 1e-3)
for step in range(40):
    x = torch.randn(16, 12, 6); y = (x[:, :, 0].mean(1) > 0).long()
    opt.zero_grad(); F.cross_entropy(m(x), y).backward(); opt.step()
""")
    f, = only(r)
    assert f.evidence["layer_calls_per_model_call"] == 16 and f.evidence["model_batch"] == 16
    assert f.evidence["input_shape"] == [12, 32] and f.location["module"] == "Bags.enc.1"
    assert "16 times per call" in f.observation
    assert f.hypotheses[0].kind == "likely" and "loops over the samples" in f.hypotheses[0].cause



def test_one_point_cloud_at_a_time_through_a_shared_mlp(run_code):
    # PointNet-style: BatchNorm1d over the points of a cloud; with one cloud per step they are one sample's.
    r = run_code("""
import torch, torch.nn as nn, torch.nn.functional as F
torch.manual_seed(0)
class Points(nn.Module):
    def __init__(self):
        super().__init__()
        self.mlp = nn.Sequential(nn.Linear(3, 32), nn.BatchNorm1d(32), nn.ReLU()); self.head = nn.Linear(32, 2)
    def forward(self, cloud):                      # (1, P, 3)
        n, p, _ = cloud.shape
        return self.head(self.mlp(cloud.reshape(n * p, 3)).reshape(n, p, 32).max(1).values)
m = Points(); opt = torch.optim.Adam(m.parameters(), 1e-3)
for step in range(40):
    x = torch.randn(1, 64, 3) * (1 + step % 2); y = torch.tensor([step % 2])
    opt.zero_grad(); F.cross_entropy(m(x), y).backward(); opt.step()
""")
    f, = only(r)
    assert f.evidence["input_shape"] == [64, 32] and f.evidence["model_batch"] == 1


def test_bags_of_different_sizes_passed_as_a_list(run_code):
    r = run_code("""
import torch, torch.nn as nn, torch.nn.functional as F
torch.manual_seed(0)
enc = nn.Sequential(nn.Linear(6, 16), nn.BatchNorm1d(16), nn.ReLU())
class Bags(nn.Module):
    def __init__(self):
        super().__init__(); self.enc = enc; self.head = nn.Linear(16, 2)
    def forward(self, bags):                       # a list of (P_i, 6)
        return self.head(torch.stack([self.enc(b).mean(0) for b in bags]))
m = Bags(); opt = torch.optim.Adam(m.parameters(), 1e-3)
for step in range(40):
    bags = [torch.randn(5 + i, 6) for i in range(8)]; y = torch.tensor([int(b[:, 0].mean() > 0) for b in bags])
    opt.zero_grad(); F.cross_entropy(m(bags), y).backward(); opt.step()
""")
    f, = only(r)
    assert f.evidence["model_batch"] == 8 and f.evidence["layer_calls_per_model_call"] == 8

HEALTHY = {
    "batch-32": """
m = cnn(nn.BatchNorm2d(8)); opt = torch.optim.SGD(m.parameters(), 0.05)
for step in range(40):
    x, y = batch(32); opt.zero_grad(); F.cross_entropy(m(x), y).backward(); opt.step()
""",
    # Two samples per step: noisy statistics, but across samples (BATCH_NORM_MIN_SAMPLES).
    "batch-2": """
m = cnn(nn.BatchNorm2d(8)); opt = torch.optim.SGD(m.parameters(), 0.05)
for step in range(40):
    x, y = batch(2); opt.zero_grad(); F.cross_entropy(m(x), y).backward(); opt.step()
""",
    # Fine-tuning with batch norm frozen: its layers in eval mode, the rest training.
    "frozen-batchnorm": """
m = cnn(nn.BatchNorm2d(8)); m.insert(3, nn.Dropout(0.1)); opt = torch.optim.SGD(m.parameters(), 0.05)
m.train(); m[1].eval()
for step in range(40):
    x, y = batch(1); opt.zero_grad(); F.cross_entropy(m(x), y).backward(); opt.step()
""",
    "groupnorm-batch-1": """
m = cnn(nn.GroupNorm(2, 8)); opt = torch.optim.SGD(m.parameters(), 0.05)
for step in range(40):
    x, y = batch(1); opt.zero_grad(); F.cross_entropy(m(x), y).backward(); opt.step()
""",
    "instancenorm-layernorm-batch-1": """
m = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.InstanceNorm2d(8, affine=True), nn.ReLU(), nn.Flatten(),
                  nn.Linear(512, 16), nn.LayerNorm(16), nn.ReLU(), nn.Linear(16, 2))
opt = torch.optim.SGD(m.parameters(), 0.05)
for step in range(40):
    x, y = batch(1); opt.zero_grad(); F.cross_entropy(m(x), y).backward(); opt.step()
""",
    # One sample at a time only at evaluation, in eval mode under no_grad; training takes batches of 16.
    "batch-1-only-at-evaluation": """
m = cnn(nn.BatchNorm2d(8)); opt = torch.optim.SGD(m.parameters(), 0.05)
for step in range(40):
    m.train(); x, y = batch(16); opt.zero_grad(); F.cross_entropy(m(x), y).backward(); opt.step()
    m.eval()
    with torch.no_grad():
        for _ in range(3):
            m(batch(1)[0])
""",
    # 33 samples in batches of 16: every third training call gets the epoch's last, single sample.
    "last-short-batch": """
from torch.utils.data import DataLoader, TensorDataset
data = TensorDataset(*batch(33))
m = cnn(nn.BatchNorm2d(8)); opt = torch.optim.SGD(m.parameters(), 0.05)
for epoch in range(30):
    for x, y in DataLoader(data, batch_size=16, shuffle=True):
        opt.zero_grad(); F.cross_entropy(m(x), y).backward(); opt.step()
""",
    # Two views of a batch through one encoder, passed as a pair: two calls per step, each over 16 samples.
    "siamese-pair": """
class Pair(nn.Module):
    def __init__(self):
        super().__init__(); self.enc = cnn(nn.BatchNorm2d(8))
    def forward(self, views):
        a, b = views
        return self.enc(a) - self.enc(b)
m = Pair(); opt = torch.optim.SGD(m.parameters(), 0.05)
for step in range(40):
    x, y = batch(16); opt.zero_grad(); F.cross_entropy(m((x, x.flip(3))), y).backward(); opt.step()
""",
    # A batch-norm layer run once per time step, each time over the whole batch: as many steps as samples.
    "once-per-time-step": """
class Steps(nn.Module):
    def __init__(self):
        super().__init__()
        self.cell = nn.Sequential(nn.Linear(8, 8), nn.BatchNorm1d(8), nn.Tanh()); self.head = nn.Linear(8, 2)
    def forward(self, x):                          # (N, T, 8), T == N
        h = torch.zeros(x.shape[0], 8)
        for t in range(x.shape[1]):
            h = self.cell(x[:, t] + h)
        return self.head(h)
m = Steps(); opt = torch.optim.Adam(m.parameters(), 1e-3)
for step in range(40):
    x = torch.randn(16, 16, 8); y = (x[:, :, 0].sum(1) > 0).long()
    opt.zero_grad(); F.cross_entropy(m(x), y).backward(); opt.step()
""",
}


@pytest.mark.parametrize("name", sorted(HEALTHY))
def test_healthy_look_alikes_stay_silent(run_code, name):
    r = run_code(IMAGES + HEALTHY[name])
    assert only(r) == [], only(r)[0].observation


def test_cli_default_names_it_the_root_cause(tmp_path):
    script = tmp_path / "train.py"
    script.write_text(IMAGES + ONE_IMAGE.format(steps=300, every=50))
    done = subprocess.run([sys.executable, "-m", "traindoctor", "run", str(script)], cwd=tmp_path,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 1, done.stderr
    assert "✗ error    batchnorm-small-batch" in done.stdout
    assert "most likely root cause: batchnorm-small-batch" in done.stdout
