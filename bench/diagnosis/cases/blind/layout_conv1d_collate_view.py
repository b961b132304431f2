# source: https://discuss.pytorch.org/t/interpret-nchw-channel-last-tensor-as-nhwc-normal-tensor/207521
# expect: layout-scrambled
# category: sequence
# bug: collate_fn stacks (T, F) sensor windows into (B, T, F) and reshapes them to the (B, F, T) that Conv1d wants with .view() instead of .transpose(1, 2)
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset

torch.manual_seed(0)
N, T, CH = 1536, 64, 4


def make_windows(n):
    """Multichannel sensor windows (time, channel); label = which channel carries the vibration."""
    t = torch.arange(T).float()
    x = 0.3 * torch.randn(n, T, CH)
    y = torch.randint(0, CH, (n,))
    freq = 0.6 + 0.4 * torch.rand(n)
    phase = 6.28 * torch.rand(n)
    wave = torch.sin(freq[:, None] * t[None, :] + phase[:, None])
    x[torch.arange(n), :, y] += wave
    return x, y


def collate(batch):
    xs = torch.stack([b[0] for b in batch])          # (B, T, CH)
    ys = torch.stack([b[1] for b in batch])
    return xs.view(xs.size(0), CH, T), ys


class TCN(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv1d(CH, 32, 5, padding=2), nn.ReLU(),
            nn.Conv1d(32, 32, 5, padding=2), nn.ReLU(),
        )
        self.fc = nn.Linear(32, CH)

    def forward(self, x):
        h = self.net(x)
        return self.fc(h.mean(-1))


x, y = make_windows(N)
loader = DataLoader(TensorDataset(x, y), batch_size=32, shuffle=True, collate_fn=collate)
model = TCN()
opt = torch.optim.Adam(model.parameters(), lr=2e-3)


def train(epochs):
    step = 0
    for ep in range(epochs):
        total, correct, seen = 0.0, 0, 0
        for xb, yb in loader:
            out = model(xb)
            loss = F.cross_entropy(out, yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item() * len(yb)
            correct += (out.argmax(1) == yb).sum().item()
            seen += len(yb)
            if step % 25 == 0:
                print(f"step {step} loss {loss.item():.4f}")
            step += 1
        print(f"epoch {ep}: mean loss {total / seen:.4f} acc {correct / seen:.3f}")


train(6)
