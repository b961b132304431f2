# source: https://github.com/jadore801120/attention-is-all-you-need-pytorch/pull/17
# expect: batch-mixing
# category: regression
# bug: a hand-written LayerNorm (written for batch-first input, reducing dim=1) is used in a sequence-first (T,B,D) encoder, so it normalises over the batch
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(12)
T, B, D = 20, 32, 16


def batch(b):
    level = torch.randn(b) * 2.0
    x = level.view(1, b, 1) + 0.3 * torch.randn(T, b, 1)
    x = x.expand(T, b, 4).clone()
    return x, level


class Encoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.inp = nn.Linear(4, D)
        self.lstm = nn.LSTM(D, D)
        self.head = nn.Linear(D, 1)
        self.gain = nn.Parameter(torch.ones(D))
        self.bias = nn.Parameter(torch.zeros(D))

    def norm(self, h):
        mu = h.mean(dim=1, keepdim=True)
        sd = h.std(dim=1, keepdim=True)
        return self.gain * (h - mu) / (sd + 1e-5) + self.bias

    def forward(self, x):
        h = self.norm(self.inp(x))
        out, _ = self.lstm(h)
        return self.head(out[-1]).squeeze(-1)


model = Encoder()
opt = torch.optim.Adam(model.parameters(), lr=3e-3)
for step in range(250):
    x, y = batch(B)
    loss = F.mse_loss(model(x), y)
    opt.zero_grad()
    loss.backward()
    opt.step()
    if step % 25 == 0:
        print(f"step {step} loss {loss.item():.4f}")

model.eval()
with torch.no_grad():
    x, y = batch(200)
    mse_batch = F.mse_loss(model(x), y).item()
    hi = y > 1.0
    mse_hi = F.mse_loss(model(x[:, hi]), y[hi]).item()
print(f"mse on a batch of high-level sequences only {mse_hi:.3f}")
print(f"mse on a batch of 200 {mse_batch:.3f}; target var {y.var().item():.3f}")
