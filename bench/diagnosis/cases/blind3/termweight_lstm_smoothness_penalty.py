# source: https://github.com/keras-team/keras-io/pull/1493
# expect: over-regularization, metric-competing-losses, loss-imbalance
# category: sequence
# bug: an LSTM smoother trained on mse(pred, noisy) + smooth_w * squared first differences of pred summed over time; smooth_w=5.0 (a sum over 60 steps against a mean) flattens the output, so the clean signal is never tracked
import torch
import torch.nn as nn

torch.manual_seed(20)

T, B = 60, 32
smooth_w = 5.0


def batch():
    t = torch.linspace(0, 1, T).unsqueeze(1)
    freq = 1 + 3 * torch.rand(1, B)
    phase = 6.28 * torch.rand(1, B)
    clean = torch.sin(2 * 3.1416 * freq * t + phase)
    noisy = clean + 0.3 * torch.randn(T, B)
    return noisy.unsqueeze(-1), clean.unsqueeze(-1)


class Smoother(nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(1, 32, bidirectional=True)    # time-first
        self.proj = nn.Linear(64, 1)

    def forward(self, x):
        h, _ = self.lstm(x)
        return self.proj(h)


model = Smoother()
opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)

for step in range(1, 201):
    noisy, clean = batch()
    pred = model(noisy)
    fit = ((pred - noisy) ** 2).mean()
    roughness = ((pred[1:] - pred[:-1]) ** 2).sum(dim=0).mean()
    loss = fit + smooth_w * roughness
    opt.zero_grad()
    loss.backward()
    opt.step()
    if step == 1 or step % 25 == 0:
        err = ((pred - clean) ** 2).mean().item()
        print(f"step {step:3d} loss {loss.item():.4f} fit {fit.item():.4f} rough {roughness.item():.4f} mse vs clean {err:.4f}")
