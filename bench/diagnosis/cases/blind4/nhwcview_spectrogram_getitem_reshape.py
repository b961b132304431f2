# source: https://github.com/vitrioil/Speech-Separation/issues/4 ("Reshaping issue": spectrogram features reshaped with view instead of permute + view, mixing time and frequency) - here in a keyword-spotting Dataset feeding Conv1d
# expect: layout-scrambled
# category: classification
# bug: the Dataset stores spectrograms as (frames, mels) and __getitem__ turns them into (mels, frames) with reshape instead of a transpose, so every Conv1d "channel" holds a slice of ~1.5 frames' worth of mel bins and the time/frequency structure is scrambled
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import Dataset, DataLoader

np.random.seed(13)
torch.manual_seed(13)

N_FRAMES, N_MELS = 64, 32
COMMANDS = ["up", "down", "stop", "go", "left", "right"]


def render(cmd, rng):
    """Log-mel-like (frames, mels) patch of a synthetic spoken command."""
    spec = rng.randn(N_FRAMES, N_MELS).astype(np.float32) * 0.6
    start = rng.randint(0, N_FRAMES - 28)
    dur = rng.randint(18, 27)
    t = np.arange(dur)
    f0 = rng.uniform(6, 10)
    if cmd == "up":
        track = [f0 + 0.6 * t]
    elif cmd == "down":
        track = [f0 + 15 - 0.6 * t]
    elif cmd == "stop":
        track = [np.full(dur, f0), np.full(dur, f0 + 12)]
    elif cmd == "go":
        track = [np.full(dur, f0 + 4)]
    elif cmd == "left":
        track = [f0 + 6 + 4 * np.sin(t / 3.0)]
    else:
        track = [np.full(dur, f0), f0 + 8 + 0.5 * t]
    for tr in track:
        for k, f in zip(t, tr):
            fi = int(np.clip(round(f), 0, N_MELS - 1))
            spec[start + k, max(fi - 1, 0):fi + 2] += rng.uniform(0.8, 1.6)
    return spec


class CommandSpectrograms(Dataset):
    def __init__(self, n, seed):
        rng = np.random.RandomState(seed)
        self.labels = rng.randint(0, len(COMMANDS), n)
        self.specs = np.stack([render(COMMANDS[c], rng) for c in self.labels])   # (N, frames, mels)
        self.mean, self.std = self.specs.mean(), self.specs.std()

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, i):
        spec = torch.from_numpy((self.specs[i] - self.mean) / self.std)          # (frames, mels)
        spec = spec.reshape(N_MELS, N_FRAMES)                                    # Conv1d wants (C=mels, L=frames)
        return spec, int(self.labels[i])


class KWSConv1d(nn.Module):
    def __init__(self, n_cls=len(COMMANDS)):
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv1d(N_MELS, 64, 5, padding=2), nn.BatchNorm1d(64), nn.ReLU(),
            nn.Conv1d(64, 64, 5, padding=2), nn.BatchNorm1d(64), nn.ReLU(),
            nn.MaxPool1d(2),
            nn.Conv1d(64, 64, 3, padding=1), nn.BatchNorm1d(64), nn.ReLU(),
        )
        self.fc = nn.Linear(64, n_cls)

    def forward(self, x):                          # x: (B, mels, frames)
        h = self.net(x)
        return self.fc(h.amax(dim=-1))            # max-pool over time


train_ds, val_ds = CommandSpectrograms(600, 0), CommandSpectrograms(600, 1)
val_ds.mean, val_ds.std = train_ds.mean, train_ds.std
train_dl = DataLoader(train_ds, batch_size=32, shuffle=True)
val_dl = DataLoader(val_ds, batch_size=200)

model = KWSConv1d()
opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, nesterov=True, weight_decay=5e-4)
sched = torch.optim.lr_scheduler.MultiStepLR(opt, milestones=[7], gamma=0.2)

for epoch in range(10):
    model.train()
    seen, loss_sum = 0, 0.0
    for x, y in train_dl:
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        seen += len(y); loss_sum += loss.item() * len(y)
    sched.step()
    model.eval()
    correct = 0
    with torch.no_grad():
        for x, y in val_dl:
            correct += (model(x).argmax(1) == y).sum().item()
    print(f"epoch {epoch}  train loss {loss_sum / seen:.4f}  val acc {correct / len(val_ds):.3f}")
