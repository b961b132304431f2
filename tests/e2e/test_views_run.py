"""`traindoctor run` with its defaults on a layout broken outside the model: a view()/reshape() of the script's
own that returns the input's dimensions in another order — while loading, in the loop, or between the model's
output and the loss — is named with its line; the same scripts with permute(), and reshapes that merge or
split axes, are quiet. Images reshaped in numpy, which no call watch sees, are named from the pixels the first
convolution reads, or at the hand-over when numpy's view of the channels-last array reaches torch; laid out right in
numpy (transposed, or CIFAR-style rows stored plane by plane) they are quiet."""
import pytest
import torch

from conftest import codes
from traindoctor.measure.views import numpy_reshaped, reordered, watch_views

PRELUDE = """
import torch, torch.nn as nn, torch.nn.functional as F
torch.manual_seed(0)
"""

IMAGES = """
y = torch.randint(0, 3, (256,))
hwc = 0.3 * torch.randn(256, 8, 8, 3)          # channels last, as images decode
hwc[torch.arange(256), 2:6, 2:6, y] += 1.0
X = {load}
model = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 3))
opt = torch.optim.Adam(model.parameters(), lr=3e-3)
for step in range(60):
    i = torch.randint(0, 256, (32,))
    loss = F.cross_entropy(model(X[i]), y[i])
    opt.zero_grad(); loss.backward(); opt.step()
"""

LOOP = """
from torch.utils.data import DataLoader, TensorDataset
y = torch.randint(0, 2, (128,))
x = 0.3 * torch.randn(128, 12, 10, 2)
x[y == 1, :6, :, 0] += 1
model = nn.Sequential(nn.Conv2d(2, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 10 * 8, 2))
opt = torch.optim.SGD(model.parameters(), lr=0.05)
for epoch in range(3):
    for xb, yb in DataLoader(TensorDataset(x, y), batch_size=16, shuffle=True):
        xb = {batch}
        loss = F.cross_entropy(model(xb), yb)
        opt.zero_grad(); loss.backward(); opt.step()
"""

SEQUENCE_OUT = """
T, B, V = 12, 6, 5
rnn, head = nn.RNN(V, 16), nn.Linear(16, V)          # sequence-first, as built
opt = torch.optim.Adam([*rnn.parameters(), *head.parameters()], lr=3e-3)
for step in range(60):
    tokens = torch.randint(0, V, (B, T))
    out, _ = rnn(F.one_hot(tokens, V).float().transpose(0, 1))
    logits = {logits}                            # (T, B, V) from the model, scored against (B, T) tokens
    loss = F.cross_entropy(logits.reshape(-1, V), tokens.reshape(-1))
    opt.zero_grad(); loss.backward(); opt.step()
"""

CASES = {
    "loading": (IMAGES, "load", "hwc.view(256, 3, 8, 8)", "hwc.permute(0, 3, 1, 2)"),
    "the loop": (LOOP, "batch", "xb.reshape(xb.shape[0], 2, 12, 10)", "xb.permute(0, 3, 1, 2)"),
    "model to loss": (SEQUENCE_OUT, "logits", "head(out).view(B, T, V)", "head(out).transpose(0, 1)"),
}


@pytest.mark.parametrize("where", CASES)
def test_a_reordering_view_outside_the_model_is_named_with_its_line(run_code, where):
    template, slot, broken, _ = CASES[where]
    source = PRELUDE + template.format(**{slot: broken})
    r = run_code(source)
    assert codes(r)[:1] == ["layout-scrambled"], [(f.code, f.observation) for f in r.findings]
    line = next(n for n, text in enumerate(source.splitlines(), 1) if broken in text)
    assert r.findings[0].location["line"] == line
    assert "outside the model" in r.findings[0].observation


@pytest.mark.parametrize("where", CASES)
def test_the_same_scripts_with_permute_are_quiet(run_code, where):
    template, slot, _, fixed = CASES[where]
    r = run_code(PRELUDE + template.format(**{slot: fixed}))
    assert "layout-scrambled" not in codes(r), [(f.code, f.observation) for f in r.findings]


@pytest.mark.parametrize("before, after, expected", [
    ((32, 8, 8, 3), (32, 3, 8, 8), True),
    ((20, 8, 5), (8, 20, 5), True),
    ((16, 3, 8, 8), (1024, 3), True),         # classes read along the width
    ((16, 24), (8, 16, 3), True),             # the samples read inside rows
    ((16, 4, 16), (16, 64), False),           # merges two axes, one as large as the batch
    ((32, 8), (4, 8, 8), False),              # splits the batch
    ((32, 784), (32, 1, 28, 28), False),      # splits an axis
    ((4, 16, 10), (64, 10), False),           # merges axes
    ((32, 1, 5), (32, 5, 1), False),          # moves a size-1 dim: no element moves
    ((6, 6), (6, 6), False),
])
def test_reordered_counts_only_axes_that_move_elements(before, after, expected):
    assert reordered(before, after) is expected


def test_the_watch_sees_the_callers_own_line_and_restores_tensor_methods():
    seen = []
    own_before = "view" in torch.Tensor.__dict__
    restore = watch_views(seen.append, lambda: True)
    try:
        torch.zeros(4, 3).view(3, 4)
        torch.zeros(2, 6).reshape(3, 4)           # another shape: not a reordering
        torch.nn.functional.unfold(torch.zeros(1, 2, 4, 4), 2)  # torch's own reshapes are not the caller's
    finally:
        restore()
    assert [(s["from"], s["to"]) for s in seen] == [([4, 3], [3, 4])]
    assert seen[0]["file"] == __file__
    assert ("view" in torch.Tensor.__dict__) == own_before and torch.Tensor.view is torch._C.TensorBase.view


NUMPY_IMAGES = """
import numpy as np
rng = np.random.default_rng(0)
N, H, W, C = 256, 14, 10, 3
y = rng.integers(0, 2, N)
hwc = np.linspace(0, 1, H)[None, :, None, None] * rng.random((N, 1, 1, C)) + 0.1 * rng.normal(size=(N, H, W, C))
for i in range(N):                            # class 1: a bright bar across, class 0: down
    r = rng.integers(2, H - 2); k = rng.integers(2, W - 2)
    if y[i]: hwc[i, r - 1:r + 1, :] += 1
    else: hwc[i, :, k - 1:k + 1] += 1
X = {load}
Y = torch.from_numpy(y)
model = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 2))
opt = torch.optim.Adam(model.parameters(), lr=3e-3)
for step in range(40):
    i = torch.randint(0, N, (32,))
    loss = F.cross_entropy(model(X[i]), Y[i])
    opt.zero_grad(); loss.backward(); opt.step()
"""


@pytest.mark.parametrize("load, told", [
    # handed to torch as numpy's view of the channels-last array: named at the hand-over
    ("torch.from_numpy(hwc.reshape(N, C, H, W)).float()", "numpy reshape"),
    # copied after the reshape (the owner is gone): named from the pixels the first convolution reads
    ("torch.from_numpy(hwc.reshape(N, C, H, W).astype(np.float32))", "channels-last"),
    ("torch.tensor(hwc.reshape(-1).reshape(N, C, H, W).tolist())", "channels-last")])
def test_images_reshaped_in_numpy_are_named(run_code, load, told):
    """numpy's reshape is no call torch sees: the array handed over, or else the images, tell it."""
    source = PRELUDE + NUMPY_IMAGES.format(load=load)
    r = run_code(source)
    assert codes(r)[:1] == ["layout-scrambled"], [(f.code, f.observation) for f in r.findings]
    assert told in r.findings[0].observation
    if told == "numpy reshape":
        assert r.findings[0].location["line"] == next(n for n, t in enumerate(source.splitlines(), 1) if load in t)


@pytest.mark.parametrize("load", ["torch.from_numpy(hwc.transpose(0, 3, 1, 2).astype(np.float32))",
                                  "torch.from_numpy(hwc).permute(0, 3, 1, 2).float()",
                                  # rows stored plane by plane (as CIFAR-10's files): reshaping them is right
                                  "torch.from_numpy(np.ascontiguousarray(hwc.transpose(0, 3, 1, 2))"
                                  ".reshape(N, -1).reshape(N, C, H, W)).float()"])
def test_images_laid_out_right_in_numpy_are_quiet(run_code, load):
    r = run_code(PRELUDE + NUMPY_IMAGES.format(load=load))
    assert "layout-scrambled" not in codes(r), [(f.code, f.observation) for f in r.findings]


def test_numpy_reshaped_reads_the_owner_of_the_memory():
    np = pytest.importorskip("numpy")
    hwc = np.zeros((4, 6, 5, 3))
    assert numpy_reshaped(hwc.reshape(4, 3, 6, 5)) == (4, 6, 5, 3)
    assert numpy_reshaped(hwc.reshape(4, -1).reshape(4, 3, 6, 5)) == (4, 6, 5, 3)   # views of views: one owner
    assert numpy_reshaped(hwc.transpose(0, 3, 1, 2)) is None                         # strided: elements move
    assert numpy_reshaped(hwc.reshape(4, 3, 6, 5).copy()) is None                     # owns its memory: unknown
    assert numpy_reshaped(hwc.reshape(4, 90)) is None and numpy_reshaped(hwc[:2].reshape(2, 3, 6, 5)) is None
