# source: hierarchical CNN-over-windows + GRU models for long sensor recordings; the contrast case of https://github.com/vitrioil/Speech-Separation/issues/4 - a view that only splits one contiguous axis is valid, a view that moves an axis is not
# expect: healthy
# category: sequence
# bug: none - view(B * n_win, WIN, F) only splits the contiguous time axis of a (B, T, F) tensor, which is a valid reshape; the channel move for Conv1d is done with transpose(1, 2), and view(B, n_win, D) regroups windows of the same recording
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

np.random.seed(19)
torch.manual_seed(19)

T, N_FEAT = 256, 4
WIN = 32
N_WIN = T // WIN
# class = (which sensor shows the vibration burst) x (burst early / late in the recording)
N_CLS = N_FEAT * 2


def recording(cls, rng):
    x = rng.randn(T, N_FEAT).astype(np.float32) * 0.4
    sensor, late = cls // 2, cls % 2
    start = rng.randint(T // 2 + 8, T - 40) if late else rng.randint(8, T // 2 - 40)
    t = np.arange(32)
    x[start:start + 32, sensor] += (1.5 * np.sin(2 * np.pi * t / 5.0) * np.hanning(32)).astype(np.float32)
    return x


def make_split(n, rng):
    y = rng.randint(0, N_CLS, n)
    return torch.from_numpy(np.stack([recording(c, rng) for c in y])), torch.from_numpy(y)


class WindowEncoder(nn.Module):
    def __init__(self, d=32):
        super().__init__()
        self.conv = nn.Sequential(
            nn.Conv1d(N_FEAT, 24, 5, padding=2), nn.ReLU(),
            nn.Conv1d(24, d, 5, padding=2), nn.ReLU(),
        )

    def forward(self, w):                 # (N, WIN, F)
        h = self.conv(w.transpose(1, 2))  # (N, d, WIN)
        return h.amax(-1)                 # (N, d)


class HierarchicalNet(nn.Module):
    def __init__(self, d=32):
        super().__init__()
        self.enc = WindowEncoder(d)
        self.gru = nn.GRU(d, 48, batch_first=True)
        self.fc = nn.Linear(48, N_CLS)

    def forward(self, x):                 # (B, T, F)
        B = x.size(0)
        windows = x.view(B * N_WIN, WIN, N_FEAT)
        feats = self.enc(windows).view(B, N_WIN, -1)
        _, h = self.gru(feats)
        return self.fc(h[-1])


rng = np.random.RandomState(0)
x_tr, y_tr = make_split(2000, rng)
x_te, y_te = make_split(400, rng)

model = HierarchicalNet()
opt = torch.optim.Adam(model.parameters(), lr=2e-3)

for epoch in range(6):
    model.train()
    perm = torch.randperm(len(y_tr))
    run = 0.0
    for b, s in enumerate(range(0, len(perm), 40)):
        idx = perm[s:s + 40]
        loss = F.cross_entropy(model(x_tr[idx]), y_tr[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
        run += loss.item()
    model.eval()
    with torch.no_grad():
        acc = (model(x_te).argmax(1) == y_te).float().mean().item()
    print(f"epoch {epoch}  train loss {run / (b + 1):.4f}  test acc {acc:.3f}")
