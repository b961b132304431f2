# source: https://github.com/WenjieDu/PyPOTS/issues/265
# expect: nonfinite-forward
# category: sequence
# bug: per-window normalisation in forward() written as (x - mean) / std + eps, the eps outside the division; windows where the sensor held a constant value have std 0 and give 0/0 = NaN
import torch
import torch.nn as nn

torch.manual_seed(5)

T = 64
n = 1200


def make_windows(n):
    t = torch.arange(T).float()
    labels = torch.randint(0, 3, (n,))
    freq = torch.tensor([0.05, 0.12, 0.25])[labels]
    phase = torch.rand(n) * 6.28
    amp = torch.rand(n) * 3 + 0.5
    offset = torch.randn(n) * 5
    x = offset[:, None] + amp[:, None] * torch.sin(freq[:, None] * 6.28 * t[None] + phase[:, None])
    x = x + 0.1 * torch.randn(n, T)
    # logger drop-outs: the device repeats its last reading for the whole window
    stuck = torch.rand(n) < 0.03
    x[stuck] = x[stuck, :1].expand(-1, T)
    return x.unsqueeze(1), labels


X, Y = make_windows(n)


class WindowNorm(nn.Module):
    def __init__(self, eps=1e-5):
        super().__init__()
        self.eps = eps

    def forward(self, x):
        mean = x.mean(dim=-1, keepdim=True)
        std = x.std(dim=-1, keepdim=True)
        return (x - mean) / std + self.eps


class SignalNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.norm = WindowNorm()
        self.conv = nn.Sequential(
            nn.Conv1d(1, 16, 7, padding=3), nn.ReLU(), nn.MaxPool1d(2),
            nn.Conv1d(16, 32, 5, padding=2), nn.ReLU(), nn.AdaptiveAvgPool1d(1),
        )
        self.head = nn.Linear(32, 3)

    def forward(self, x):
        return self.head(self.conv(self.norm(x)).squeeze(-1))


model = SignalNet()
opt = torch.optim.Adam(model.parameters(), lr=2e-3)
loss_fn = nn.CrossEntropyLoss()

for step in range(300):
    idx = torch.randint(0, n, (32,))
    out = model(X[idx])
    loss = loss_fn(out, Y[idx])
    opt.zero_grad()
    loss.backward()
    opt.step()
    if step % 25 == 0:
        acc = (out.argmax(1) == Y[idx]).float().mean().item()
        print(f"step {step} loss {loss.item():.4f} acc {acc:.2f}")
