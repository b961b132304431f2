"""`traindoctor run`, default configuration: a dense target (a mask, a heatmap, a clean image, a tag per time
step) is a function of its input at the same place — a random flip, crop or transpose applied to one of them
and not the other moves it, whatever the task and the model; transforms applied to both, to the colours only,
or one the task itself asks of every sample, do not."""
import pytest

from conftest import codes

PRELUDE = """
import torch, torch.nn as nn, torch.nn.functional as F
torch.manual_seed(0)
"""

SEGMENTATION = """
from torch.utils.data import Dataset, DataLoader
S = 20
def scene(g):
    yy, xx = torch.meshgrid(torch.arange(S), torch.arange(S), indexing="ij")
    mask = torch.zeros(S, S, dtype=torch.long)
    for _ in range(3):
        cy, cx = torch.randint(3, S - 3, (2,), generator=g).tolist(); r = int(torch.randint(2, 5, (1,), generator=g))
        mask[(yy - cy) ** 2 + (xx - cx) ** 2 <= r * r] = 1
    return torch.stack([mask.float() * 0.8 + 0.1 * torch.randn(S, S, generator=g) for _ in range(3)]), mask
class Scenes(Dataset):
    def __init__(self):
        g = torch.Generator().manual_seed(1); self.items = [scene(g) for _ in range(128)]
    def __len__(self): return len(self.items)
    def __getitem__(self, i):
        img, mask = self.items[i]
        AUGMENT
        return img, mask
net = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 2, 3, padding=1))
opt = torch.optim.Adam(net.parameters(), lr=3e-3)
for epoch in range(3):
    for img, mask in DataLoader(Scenes(), batch_size=16, shuffle=True):
        loss = F.cross_entropy(net(img), mask)
        opt.zero_grad(); loss.backward(); opt.step()
"""

TAGGING = """
L, W = 80, 48
sig = torch.zeros(256, L); tags = torch.zeros(256, L, dtype=torch.long)
for i in range(256):
    for _ in range(4):
        s = int(torch.randint(0, L - 8, (1,))); n = int(torch.randint(3, 8, (1,)))
        sig[i, s:s + n] += 1.0; tags[i, s:s + n] = 1
sig += 0.2 * torch.randn_like(sig)
def window(i):
    a = int(torch.randint(0, L - W, (1,))); b = OFFSET
    return sig[i, a:a + W], tags[i, b:b + W]
tagger = nn.Sequential(nn.Conv1d(1, 8, 5, padding=2), nn.ReLU(), nn.Conv1d(8, 2, 5, padding=2))
opt = torch.optim.Adam(tagger.parameters(), lr=3e-3)
for step in range(100):
    xs, ys = zip(*[window(int(i)) for i in torch.randint(0, 256, (16,))])
    loss = F.cross_entropy(tagger(torch.stack(xs)[:, None]), torch.stack(ys))
    opt.zero_grad(); loss.backward(); opt.step()
"""

HEATMAP = """
import numpy as np
rng = np.random.default_rng(0)
S = 20
yy, xx = np.mgrid[0:S, 0:S]
def sample():
    img = 0.1 * rng.standard_normal((1, S, S)).astype(np.float32)
    hm = np.zeros((S, S), np.float32)
    for _ in range(2):
        r, c = rng.integers(3, S - 3, 2)
        img[0, r - 1:r + 2, c - 1:c + 2] += 1.0
        hm = np.maximum(hm, np.exp(-((yy - r) ** 2 + (xx - c) ** 2) / 4.0))
    return img, HEATMAP_AS_STORED
data = [sample() for _ in range(256)]
X = torch.tensor(np.stack([d[0] for d in data])); Y = torch.tensor(np.stack([d[1] for d in data]))[:, None]
net = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 8, 3, padding=1), nn.ReLU(),
                    nn.Conv2d(8, 1, 3, padding=1))
opt = torch.optim.Adam(net.parameters(), lr=2e-3)
for step in range(60):
    i = torch.randint(0, 256, (16,))
    loss = ((net(X[i]) - Y[i]) ** 2).mean()
    opt.zero_grad(); loss.backward(); opt.step()
"""

DENOISER = """
big = F.avg_pool2d(torch.randn(48, 1, 28, 28), 5, 1, 2) * 3
P = 24
def crop(img):
    i, j = torch.randint(0, 28 - P + 1, (2,)).tolist()
    return img[:, i:i + P, j:j + P]
class Denoiser(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 1, 3, padding=1))
    def forward(self, noisy):
        return noisy - self.body(noisy)
model = Denoiser(); opt = torch.optim.Adam(model.parameters(), lr=1e-3)
for step in range(40):
    idx = torch.randint(0, 48, (16,))
    clean = torch.stack([crop(big[k]) for k in idx])
    noisy = NOISY + 0.3 * torch.randn(16, 1, P, P)
    loss = F.mse_loss(model(noisy), clean)
    opt.zero_grad(); loss.backward(); opt.step()
"""

RECURRENT = """
import numpy as np
rng = np.random.default_rng(0)
T = 60
def sequence():
    x = rng.standard_normal((T, 3)).astype(np.float32) * 0.3
    y = np.zeros(T, np.int64)
    for _ in range(3):
        s = rng.integers(0, T - 6); k = rng.integers(1, 3)
        x[s:s + 5, k] += 1.5; y[s:s + 5] = k
    return x, TAGS
class Tagger(nn.Module):
    def __init__(self):
        super().__init__()
        self.rnn = nn.LSTM(3, 16, batch_first=True, bidirectional=True); self.out = nn.Linear(32, 3)
    def forward(self, x):                                   # (batch, time, features)
        return self.out(self.rnn(x)[0])
model = Tagger(); opt = torch.optim.Adam(model.parameters(), lr=3e-3)
for step in range(60):
    xs, ys = zip(*[sequence() for _ in range(16)])
    out = model(torch.tensor(np.stack(xs)))
    loss = F.cross_entropy(out.reshape(-1, 3), torch.tensor(np.stack(ys)).reshape(-1))
    opt.zero_grad(); loss.backward(); opt.step()
"""

# Rooms near the walls: a move that carries one out of the scored interior must not cost the sample.
ROOMS = """
S = 24
def scene():
    mask = torch.zeros(S, S, dtype=torch.long)
    for _ in range(2):
        a, b = torch.randint(0, S - 8, (2,)).tolist(); h, w = torch.randint(3, 8, (2,)).tolist()
        mask[a:a + h, b:b + w] = 1
    return torch.stack([mask.float() * 0.9, 1 - mask.float()]) + 0.15 * torch.randn(2, S, S), mask
scenes = [scene() for _ in range(160)]
def turn(img, mask):
    k = int(torch.randint(0, 4, (1,)))
    return TURNED
net = nn.Sequential(nn.Conv2d(2, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 2, 3, padding=1))
opt = torch.optim.Adam(net.parameters(), lr=3e-3)
for step in range(40):
    imgs, masks = zip(*[turn(*scenes[int(i)]) for i in torch.randint(0, 160, (16,))])
    loss = F.cross_entropy(net(torch.stack(imgs)), torch.stack(masks))
    opt.zero_grad(); loss.backward(); opt.step()
"""

DISPLACED = {
    "segmentation-image-flipped-alone": SEGMENTATION.replace(
        "AUGMENT", "if torch.rand(1) < 0.5: img = torch.flip(img, dims=[2])"),
    "segmentation-flips-drawn-apart": SEGMENTATION.replace(
        "AUGMENT", "if torch.rand(1) < 0.5: img = torch.flip(img, dims=[1])\n"
                   "        if torch.rand(1) < 0.5: mask = torch.flip(mask, dims=[0])"),
    # a quarter turn is none of the moves scored: the half of samples turned by 0 or 2 quarters tell
    "rooms-image-turned-alone": ROOMS.replace("TURNED", "torch.rot90(img, k, (1, 2)), mask"),
    "tagging-window-drawn-twice": TAGGING.replace("OFFSET", "int(torch.randint(0, L - W, (1,)))"),
    "heatmap-stored-transposed": HEATMAP.replace("HEATMAP_AS_STORED", "hm.T"),
    "denoiser-clean-cropped-elsewhere": DENOISER.replace("NOISY", "torch.stack([crop(big[k]) for k in idx])"),
    "recurrent-tags-rolled-by-their-own-offset": RECURRENT.replace("TAGS", "np.roll(y, rng.integers(-6, 7))"),
}

IN_PLACE = {
    "segmentation-flipped-together": SEGMENTATION.replace(
        "AUGMENT", "if torch.rand(1) < 0.5: img, mask = torch.flip(img, dims=[2]), torch.flip(mask, dims=[1])"),
    "rooms-turned-together": ROOMS.replace("TURNED", "torch.rot90(img, k, (1, 2)), torch.rot90(mask, k, (0, 1))"),
    "segmentation-colour-jitter": SEGMENTATION.replace(
        "AUGMENT", "img = img * (0.7 + 0.6 * torch.rand(3, 1, 1)) + 0.2 * torch.rand(3, 1, 1)"),
    "tagging-window-drawn-once": TAGGING.replace("OFFSET", "a"),
    "heatmap": HEATMAP.replace("HEATMAP_AS_STORED", "hm"),
    "denoiser": DENOISER.replace("NOISY", "clean"),
    "recurrent-tags": RECURRENT.replace("TAGS", "y"),
    "forecast-every-series-ahead-alike": """
t = torch.arange(0, 4000, dtype=torch.float32)
series = torch.sin(t / 7) + 0.5 * torch.sin(t / 23 + 1) + 0.05 * torch.randn(4000)
net = nn.Sequential(nn.Conv1d(1, 8, 9, padding=4), nn.Tanh(), nn.Conv1d(8, 1, 9, padding=4))
opt = torch.optim.Adam(net.parameters(), lr=3e-3)
for step in range(60):
    s = torch.randint(0, 4000 - 70, (16,))
    x = torch.stack([series[i:i + 64] for i in s])[:, None]
    loss = F.mse_loss(net(x), torch.stack([series[i + 4:i + 68] for i in s])[:, None])
    opt.zero_grad(); loss.backward(); opt.step()
""",
    "the-task-is-the-mirror-image": """
S = 16
X = F.avg_pool2d(torch.randn(512, 1, S, S), 3, 1, 1) * 2
model = nn.Sequential(nn.Flatten(), nn.Linear(S * S, 256), nn.ReLU(), nn.Linear(256, S * S), nn.Unflatten(1, (1, S, S)))
opt = torch.optim.Adam(model.parameters(), lr=1e-3)
for step in range(120):
    i = torch.randint(0, 512, (32,))
    loss = F.mse_loss(model(X[i]), torch.flip(X[i], dims=[3]))
    opt.zero_grad(); loss.backward(); opt.step()
""",
    # A reconstruction of binary shapes: the target is the input, fitted exactly as given; a moved rectangle fits
    # as exactly, to rounding, which is no better.
    "vae-reconstructing-binary-rectangles": """
def shapes(n):
    x = torch.zeros(n, 1, 16, 16)
    for k in range(n):
        a, b = torch.randint(0, 10, (2,)); h, w = torch.randint(3, 7, (2,))
        x[k, 0, a:a + h, b:b + w] = 1.0
    return x
data = shapes(512)
class VAE(nn.Module):
    def __init__(self):
        super().__init__()
        self.enc = nn.Sequential(nn.Conv2d(1, 16, 4, 2, 1), nn.ReLU(), nn.Conv2d(16, 32, 4, 2, 1), nn.ReLU(), nn.Flatten())
        self.mu, self.logvar, self.fc = nn.Linear(512, 8), nn.Linear(512, 8), nn.Linear(8, 512)
        self.dec = nn.Sequential(nn.ConvTranspose2d(32, 16, 4, 2, 1), nn.ReLU(), nn.ConvTranspose2d(16, 1, 4, 2, 1))
    def forward(self, x):
        h = self.enc(x); mu, logvar = self.mu(h), self.logvar(h)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
        return self.dec(self.fc(z).view(-1, 32, 4, 4)), mu, logvar
model = VAE(); opt = torch.optim.Adam(model.parameters(), 1e-3)
for step in range(120):
    x = data[torch.randint(0, 512, (32,))]
    logits, mu, logvar = model(x)
    loss = (F.binary_cross_entropy_with_logits(logits, x, reduction="sum") - 0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())) / 32
    opt.zero_grad(); loss.backward(); opt.step()
""",
    "classifier-with-flip-augmentation": """
X = torch.randn(512, 3, 16, 16); y = (X[:, 0].mean((1, 2)) > 0).long()
net = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 2))
opt = torch.optim.Adam(net.parameters(), lr=3e-3)
for step in range(80):
    i = torch.randint(0, 512, (32,))
    x = X[i].clone(); flip = torch.rand(32) < 0.5
    x[flip] = torch.flip(x[flip], dims=[3])
    loss = F.cross_entropy(net(x), y[i])
    opt.zero_grad(); loss.backward(); opt.step()
""",
}


@pytest.mark.parametrize("name", DISPLACED)
def test_dense_targets_moved_from_their_inputs(run_code, name):
    r = run_code(PRELUDE + DISPLACED[name])
    assert codes(r)[:1] == ["targets-displaced"], codes(r)


@pytest.mark.parametrize("name", IN_PLACE)
def test_dense_targets_in_place(run_code, name):
    r = run_code(PRELUDE + IN_PLACE[name])
    assert "targets-displaced" not in codes(r), codes(r)
