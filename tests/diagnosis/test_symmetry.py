"""symmetric-units: a layer whose units stay copies of each other — named at initialisation when the batch's
gradient keeps them identical (checkup) and after training when they still are (run); quiet on zero-init
output layers, frozen constant filters and embeddings."""
import torch
import torch.nn.functional as F
from torch import nn

from conftest import codes
from traindoctor.diagnosis.checkup import checkup


def _const(model, value=0.1):
    for m in model.modules():
        if isinstance(m, (nn.Linear, nn.Conv2d)):
            nn.init.constant_(m.weight, value)
            nn.init.zeros_(m.bias)
    return model


def _probe(model, batch, loss_fn=F.cross_entropy):
    return checkup(model, batch, loss_fn, probes=("symmetry",), progress=False)


def _batch(shape, classes=3):
    g = torch.Generator().manual_seed(0)
    return torch.randn(*shape, generator=g), torch.randint(0, classes, (shape[0],), generator=g)


def test_constant_mlp_cnn_and_copied_rows_at_initialisation():
    torch.manual_seed(0)
    mlp = _const(nn.Sequential(nn.Linear(6, 16), nn.Tanh(), nn.Linear(16, 3)))
    cnn = _const(nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 36, 3)), value=0.05)
    copied = nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 3))
    with torch.no_grad():
        copied[0].weight.copy_(copied[0].weight[:1].expand(8, 6))   # one draw copied into every unit
        copied[2].weight.copy_(copied[2].weight[:, :1].expand(3, 8))  # ...and every unit read alike
        copied[0].bias.fill_(0.0)
    for model, shape in [(mlp, (32, 6)), (cnn, (16, 1, 8, 8)), (copied, (32, 6))]:
        r = _probe(model, _batch(shape))
        assert codes(r) == ["symmetric-units"], (model, [(f.code, f.observation) for f in r.findings])


def test_symmetry_the_gradient_breaks_is_not_named():
    torch.manual_seed(0)
    zero_head = nn.Sequential(nn.Linear(6, 16), nn.Tanh(), nn.Linear(16, 3))
    nn.init.zeros_(zero_head[2].weight)          # zero-init output layer: each class gets its own gradient
    const_hidden = nn.Sequential(nn.Linear(6, 16), nn.Tanh(), nn.Linear(16, 3))
    nn.init.constant_(const_hidden[0].weight, 0.1)  # the random layer after it separates the units
    blur = nn.Conv2d(1, 2, 3)
    nn.init.constant_(blur.weight, 1 / 9)
    blur.requires_grad_(False)                    # a fixed box filter by design
    frozen = nn.Sequential(blur, nn.Flatten(), nn.Linear(2 * 36, 3))
    emb = nn.Sequential(nn.Embedding(10, 4), nn.Flatten(), nn.Linear(12, 3))
    nn.init.zeros_(emb[0].weight)
    cases = [(zero_head, _batch((32, 6))), (const_hidden, _batch((32, 6))), (frozen, _batch((16, 1, 8, 8))),
             (emb, (torch.randint(0, 10, (16, 3)), torch.randint(0, 3, (16,))))]
    for model, batch in cases:
        assert codes(_probe(model, batch)) == [], model


def test_after_training_run_names_units_that_stayed_identical(run_code):
    r = run_code("""
import torch, torch.nn as nn, torch.nn.functional as F
torch.manual_seed(0)
x = torch.randn(512, 10); y = (x[:, 0] * x[:, 1] > 0).long()
model = nn.Sequential(nn.Linear(10, 32), nn.Tanh(), nn.Linear(32, 32), nn.Tanh(), nn.Linear(32, 2))
for m in model:
    if isinstance(m, nn.Linear):
        nn.init.constant_(m.weight, 0.1); nn.init.zeros_(m.bias)
opt = torch.optim.SGD(model.parameters(), lr=0.1)
for step in range(100):
    i = (step * 32) % 512
    loss = F.cross_entropy(model(x[i:i + 32]), y[i:i + 32]); opt.zero_grad(); loss.backward(); opt.step()
""")
    assert codes(r)[:1] == ["symmetric-units"], codes(r)


def test_after_training_a_zero_initialised_head_has_separated(run_code):
    r = run_code("""
import torch, torch.nn as nn, torch.nn.functional as F
torch.manual_seed(0)
x = torch.randn(512, 10); y = (x[:, 0] > 0).long()
model = nn.Sequential(nn.Linear(10, 32), nn.ReLU(), nn.Linear(32, 2))
nn.init.zeros_(model[2].weight)
opt = torch.optim.Adam(model.parameters(), lr=1e-2)
for step in range(60):
    i = (step * 32) % 512
    loss = F.cross_entropy(model(x[i:i + 32]), y[i:i + 32]); opt.zero_grad(); loss.backward(); opt.step()
""")
    assert "symmetric-units" not in codes(r), codes(r)
