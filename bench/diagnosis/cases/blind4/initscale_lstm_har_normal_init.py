# source: PyTorch forum threads on custom LSTM init ("for name, param in lstm.named_parameters(): nn.init.normal_(param)") where the loss stays flat; CS231n weight-init notes on saturating gates
# expect: saturated-activations, vanishing-gradients
# category: sequence
# bug: init_weights applies nn.init.normal_ with its default std=1 to every LSTM/Linear weight; with 96 hidden units the gate pre-activations have std ~10, so sigmoid/tanh gates are pinned at 0/1 and gradients through time vanish
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset

torch.manual_seed(42)
np.random.seed(42)

ACTIVITIES = ["walk", "run", "stairs_up", "stairs_down", "sit", "stand"]
WIN = 48     # 48 samples @ 32 Hz = 1.5 s


class AccelWindows(Dataset):
    """Synthetic 3-axis accelerometer windows (batch-first: (T, 3) per item)."""

    def __init__(self, n, seed):
        rng = np.random.default_rng(seed)
        t = np.arange(WIN) / 32.0
        self.y = rng.integers(0, len(ACTIVITIES), n)
        X = np.empty((n, WIN, 3), np.float32)
        for i, a in enumerate(self.y):
            step_hz = {0: 1.8, 1: 2.8, 2: 1.4, 3: 1.6, 4: 0.0, 5: 0.0}[a] * rng.uniform(0.85, 1.15)
            amp = {0: 0.4, 1: 0.9, 2: 0.5, 3: 0.6, 4: 0.02, 5: 0.04}[a]
            ph = rng.uniform(0, 2 * np.pi)
            grav = np.array([0.0, 0.0, 1.0]) if a != 4 else np.array([0.0, 0.7, 0.7])
            tilt = {2: 0.15, 3: -0.15}.get(a, 0.0)
            sig = np.stack([
                amp * np.sin(2 * np.pi * step_hz * t + ph) + tilt,
                0.5 * amp * np.sin(4 * np.pi * step_hz * t + ph),
                amp * np.abs(np.sin(2 * np.pi * step_hz * t + ph)) * (1.5 if a == 3 else 1.0),
            ], 1) + grav
            X[i] = sig + rng.normal(0, 0.08, sig.shape)
        self.X = X

    def __len__(self):
        return len(self.y)

    def __getitem__(self, i):
        return torch.from_numpy(self.X[i]), int(self.y[i])


class HARNet(nn.Module):
    def __init__(self, hidden=96, n_classes=len(ACTIVITIES)):
        super().__init__()
        self.lstm = nn.LSTM(3, hidden, num_layers=1, batch_first=True)
        self.fc = nn.Linear(hidden, n_classes)

    def forward(self, x):
        out, _ = self.lstm(x)
        return self.fc(out[:, -1])


def init_weights(model):
    for name, param in model.named_parameters():
        if "weight" in name:
            nn.init.normal_(param)
        elif "bias" in name:
            nn.init.zeros_(param)


def main():
    train_dl = DataLoader(AccelWindows(1280, 0), batch_size=64, shuffle=True)
    val = AccelWindows(400, 1)
    xv, yv = torch.from_numpy(val.X), torch.from_numpy(val.y)
    model = HARNet()
    init_weights(model)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    for epoch in range(1, 8):
        model.train()
        losses = []
        for xb, yb in train_dl:
            opt.zero_grad()
            loss = F.cross_entropy(model(xb), yb)
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            losses.append(loss.item())
        model.eval()
        with torch.no_grad():
            acc = (model(xv).argmax(1) == yv).float().mean().item()
        print(f"epoch {epoch} loss {np.mean(losses):.4f} val_acc {acc:.3f}")


if __name__ == "__main__":
    main()
