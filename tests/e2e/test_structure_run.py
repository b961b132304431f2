"""`traindoctor run` with its defaults on what the forward computes: a stack of weight layers with nothing
nonlinear between them (an error once the loss does not learn, ranked ahead of the experiments' symptoms), a
view that reorders dimensions (named with its line, ahead of the batch-mixing it causes); and the healthy
versions of the same scripts, which get neither."""
import pytest

from conftest import codes

PRELUDE = """
import torch, torch.nn as nn, torch.nn.functional as F
torch.manual_seed(0)
"""

RING = """
X = torch.rand(1024, 2) * 4 - 2
y = ((X ** 2).sum(1) < 1.5).long()
opt = torch.optim.Adam(model.parameters(), lr=1e-2)
for epoch in range(8):
    for i in range(0, 1024, 64):
        loss = F.cross_entropy(model(X[i:i + 64]), y[i:i + 64])
        opt.zero_grad(); loss.backward(); opt.step()
"""

IMAGES = """
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv, self.head = nn.Conv2d(3, 8, 3, padding=1), nn.Linear(8, 4)
    def forward(self, x):                      # x: (B, H, W, C), channels last as loaded
        b, h, w, c = x.shape
        x = {layout}
        return self.head(F.relu(self.conv(x)).mean((2, 3)))
model = Net(); opt = torch.optim.Adam(model.parameters(), lr=3e-3)
colours = torch.eye(3)[torch.randint(0, 3, (512,))]
y = colours.argmax(1)
x = colours[:, None, None, :] * torch.rand(512, 8, 8, 1) + 0.05 * torch.randn(512, 8, 8, 3)
for epoch in range(6):
    for i in range(0, 512, 32):
        loss = F.cross_entropy(model(x[i:i + 32]), y[i:i + 32])
        opt.zero_grad(); loss.backward(); opt.step()
"""


def test_a_linear_stack_that_cannot_fit_is_an_error_first(run_code):
    r = run_code(PRELUDE + "model = nn.Sequential(nn.Linear(2, 64), nn.Linear(64, 64), nn.Linear(64, 2))\n" + RING)
    assert codes(r)[:1] == ["no-nonlinearity"], [(f.code, f.observation) for f in r.findings]
    assert r.findings[0].severity == "error"


def test_the_same_stack_on_a_task_a_linear_map_fits_is_only_information(run_code):
    r = run_code(PRELUDE + "model = nn.Sequential(nn.Linear(2, 64), nn.Linear(64, 64), nn.Linear(64, 2))\n"
                 + RING.replace("((X ** 2).sum(1) < 1.5)", "(X[:, 0] > 0.5 * X[:, 1])"))
    assert [(f.code, f.severity) for f in r.findings] == [("no-nonlinearity", "info")], \
        [(f.code, f.observation) for f in r.findings]
    assert "the loss learns" in r.findings[0].observation


def test_the_same_stack_with_activations_is_quiet(run_code):
    r = run_code(PRELUDE + "model = nn.Sequential(nn.Linear(2, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), "
                 "nn.Linear(64, 2))\n" + RING)
    assert codes(r) == [], [(f.code, f.observation) for f in r.findings]


def test_a_critic_whose_leaky_relu_is_idle_on_the_batch_is_not_a_linear_stack(run_code):
    # WGAN: the generator diverges and the clipped critic's pre-activations keep one sign on every sample, so
    # the critic is affine on the batch (midpoint deviation ~4e-7) although its LeakyReLU is there.
    r = run_code(PRELUDE.replace("manual_seed(0)", "manual_seed(2)") + """
G = nn.Sequential(nn.Linear(16, 128), nn.ReLU(), nn.Linear(128, 64), nn.Unflatten(1, (1, 8, 8)))
C = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.LeakyReLU(0.2), nn.Flatten(), nn.Linear(8 * 64, 1))
opt = torch.optim.RMSprop([{"params": G.parameters()}, {"params": C.parameters()}], lr=5e-4)
for step in range(200):
    real = torch.zeros(32, 1, 8, 8)
    real[torch.arange(32), 0, torch.randint(0, 8, (32,)), :] = 1.0
    real = real + 0.05 * torch.randn_like(real)
    fake = G(torch.randn(32, 16))
    loss = C(fake.detach()).mean() - C(real).mean() - C(fake).mean()
    opt.zero_grad(); loss.backward(); opt.step()
    for p in C.parameters():
        p.data.clamp_(-0.05, 0.05)
""")
    assert "no-nonlinearity" not in codes(r), [(f.code, f.observation) for f in r.findings]


@pytest.mark.parametrize("layout, expected", [("x.view(b, c, h, w)", ["layout-scrambled"]),
                                              ("x.permute(0, 3, 1, 2)", [])])
def test_a_view_that_reorders_dimensions_is_named_and_a_permute_is_not(run_code, layout, expected):
    source = PRELUDE + IMAGES.format(layout=layout)
    r = run_code(source)
    assert codes(r)[:1] == expected, [(f.code, f.observation) for f in r.findings]
    if expected:
        assert r.findings[0].location["line"] == source.splitlines().index(f"        x = {layout}") + 1
