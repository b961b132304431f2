"""`traindoctor run` on a loss summed where a mean was meant (or averaged where the rate was tuned for a
sum, or divided twice by the count) under plain SGD: the rate's excess is the root cause, named first with
the sum and its factor, ahead of what the blow-up did (dead units, an output that ignores its inputs); a
mean divided again is named with its divisor; the same sums and divisions under Adam, or under a rate
scaled by the count, are quiet."""
import pytest

from conftest import codes

PRELUDE = """
import torch, torch.nn as nn, torch.nn.functional as F
torch.manual_seed(1)
"""

CNN = """
def batch(n):
    y = torch.randint(0, 3, (n,))
    x = torch.randn(n, 1, 12, 12) * 0.5
    for k in range(3):
        x[y == k, 0, 4 * k:4 * k + 4, :] += 1.5
    return x, y
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.c1, self.c2, self.fc = nn.Conv2d(1, 8, 3, padding=1), nn.Conv2d(8, 16, 3, padding=1), nn.Linear(144, 3)
    def forward(self, x):
        x = F.max_pool2d(F.relu(self.c1(x)), 2)
        return self.fc(F.max_pool2d(F.relu(self.c2(x)), 2).flatten(1))
net = Net()
"""

SUMMED = {
    # per-sample losses .sum()-ed over a batch of 128: a blow-up in the first steps, then a dead network
    "cnn-per-sample-sum": CNN + """
opt = torch.optim.SGD(net.parameters(), lr=0.05)
for step in range(50):
    x, y = batch(128)
    loss = F.cross_entropy(net(x), y, reduction="none").sum()
    opt.zero_grad(); loss.backward(); opt.step()
""",
    # a segmenter's loss summed over every pixel of a batch (16 x 32 x 32)
    "segmentation-pixel-sum": """
def batch(n=16):
    x, m = torch.randn(n, 1, 32, 32) * 0.3, torch.zeros(n, 1, 32, 32)
    for k in range(n):
        r, c = torch.randint(4, 24, (2,)).tolist()
        m[k, 0, r:r + 8, c:c + 8] = 1
    return x + m, m
net = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 1, 1))
opt = torch.optim.SGD(net.parameters(), lr=0.01)
for step in range(50):
    x, m = batch()
    loss = F.binary_cross_entropy_with_logits(net(x), m, reduction="sum")
    opt.zero_grad(); loss.backward(); opt.step()
""",
    # an encoder and a decoder trained as two models, the reconstruction summed over every pixel of the batch:
    # the decoder's inputs blow up with the encoder, which is the rate's doing, not unnormalised data
    "two-model-autoencoder-pixel-sum": """
basis = torch.randn(4, 64)
enc = nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 8))
dec = nn.Sequential(nn.Linear(8, 32), nn.ReLU(), nn.Linear(32, 64))
opt = torch.optim.SGD([*enc.parameters(), *dec.parameters()], lr=0.05)
for step in range(50):
    x = torch.randn(64, 4) @ basis
    loss = F.mse_loss(dec(enc(x)), x, reduction="sum")
    opt.zero_grad(); loss.backward(); opt.step()
""",
}

HEALTHY = {
    "cnn-sum-rate-over-batch": CNN + """
opt = torch.optim.SGD(net.parameters(), lr=0.05 / 128, momentum=0.9)
for step in range(50):
    x, y = batch(128)
    loss = F.cross_entropy(net(x), y, reduction="none").sum()
    opt.zero_grad(); loss.backward(); opt.step()
""",
    "cnn-sum-adam": CNN + """
opt = torch.optim.Adam(net.parameters(), lr=1e-3)
for step in range(50):
    x, y = batch(128)
    loss = F.cross_entropy(net(x), y, reduction="sum")
    opt.zero_grad(); loss.backward(); opt.step()
""",
}


@pytest.mark.parametrize("case", sorted(SUMMED))
def test_a_summed_loss_under_sgd_names_the_rate_and_the_sum_first(run_code, case):
    report = run_code(PRELUDE + SUMMED[case])
    first = report.findings[0]
    assert (first.code, first.severity, first.explained_by) == ("lr-too-high", "error", None), \
        [(f.code, f.severity) for f in report.findings]
    assert "summed_terms" in first.evidence and "divide the rate by" in first.observation


def test_a_mean_over_many_tokens_under_a_rate_tuned_for_the_sum_is_named(run_code):
    report = run_code(PRELUDE + """
tag_of = torch.randint(0, 5, (20,))
emb, head = nn.Embedding(20, 32), nn.Sequential(nn.Linear(32, 64), nn.ReLU(), nn.Linear(64, 5))
opt = torch.optim.SGD([*emb.parameters(), *head.parameters()], lr=2e-4)
for step in range(120):
    tok = torch.randint(0, 20, (32, 128))
    loss = F.cross_entropy(head(emb(tok)).reshape(-1, 5), tag_of[tok].reshape(-1))
    opt.zero_grad(); loss.backward(); opt.step()
""")
    first = report.findings[0]
    assert first.code == "lr-too-low" and first.evidence.get("averaged_terms") == 32 * 128, \
        [(f.code, f.observation) for f in report.findings]


DIVIDED_TWICE = {
    # a classifier's mean cross-entropy divided by the batch size again, under SGD with momentum
    "classifier-mean-over-batch": """
w = torch.randn(16, 4)
net = nn.Sequential(nn.Linear(16, 64), nn.ReLU(), nn.Linear(64, 4))
opt = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
for step in range(150):
    x = torch.randn(256, 16)
    loss = F.cross_entropy(net(x), (x @ w).argmax(1)) / x.shape[0]
    opt.zero_grad(); loss.backward(); opt.step()
""",
    # an autoencoder's per-pixel mean divided by the batch size again, under plain SGD
    "autoencoder-pixel-mean-over-batch": """
basis = torch.randn(4, 64)
net = nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 8), nn.Linear(8, 32), nn.ReLU(), nn.Linear(32, 64))
opt = torch.optim.SGD(net.parameters(), lr=0.1)
for step in range(150):
    x = torch.randn(128, 4) @ basis
    loss = F.mse_loss(net(x), x) / x.shape[0]
    opt.zero_grad(); loss.backward(); opt.step()
""",
}

HEALTHY.update({
    "autoencoder-mean-over-batch-adam": """
basis = torch.randn(4, 64)
net = nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 8), nn.Linear(8, 32), nn.ReLU(), nn.Linear(32, 64))
opt = torch.optim.Adam(net.parameters(), lr=1e-3)
for step in range(150):
    x = torch.randn(128, 4) @ basis
    loss = F.mse_loss(net(x), x) / x.shape[0]
    opt.zero_grad(); loss.backward(); opt.step()
""",
    "autoencoder-pixel-sum-over-batch": """
basis = torch.randn(4, 64)
net = nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 8), nn.Linear(8, 32), nn.ReLU(), nn.Linear(32, 64))
opt = torch.optim.SGD(net.parameters(), lr=2e-3)
for step in range(150):
    x = torch.randn(128, 4) @ basis
    loss = F.mse_loss(net(x), x, reduction="sum") / x.shape[0]
    opt.zero_grad(); loss.backward(); opt.step()
""",
})


@pytest.mark.parametrize("case", sorted(DIVIDED_TWICE))
def test_a_mean_divided_again_under_sgd_is_named_with_its_divisor(run_code, case):
    report = run_code(PRELUDE + DIVIDED_TWICE[case])
    first = report.findings[0]
    assert first.code == "lr-too-low" and "divided again by" in first.observation, \
        [(f.code, f.observation) for f in report.findings]


@pytest.mark.parametrize("case", sorted(HEALTHY))
def test_sums_the_optimizer_or_the_rate_accounts_for_are_quiet(run_code, case):
    report = run_code(PRELUDE + HEALTHY[case])
    assert codes(report) == [], [(f.code, f.observation) for f in report.findings]
