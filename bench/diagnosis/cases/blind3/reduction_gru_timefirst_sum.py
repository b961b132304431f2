# source: https://github.com/deepchem/deepchem/pull/640
# expect: lr-too-high, loss-divergence, exploding-gradients, loss-oscillation
# category: sequence
# bug: the per-step losses of a (T, B) sequence are summed over time and batch in the loss helper, so the loss (and gradient) scales with T*B while lr was tuned for a mean
import math
import torch
import torch.nn as nn

torch.manual_seed(1)

T, B, F = 50, 32, 3


def make_batch():
    t0 = torch.rand(1, B, 1) * 6.28
    freq = 0.5 + torch.rand(1, B, 1)
    steps = torch.arange(T + 1).float().view(-1, 1, 1) * 0.2
    wave = torch.sin(freq * steps + t0)
    x = torch.cat([wave[:-1], freq.expand(T, B, 1), torch.cos(t0).expand(T, B, 1)], dim=2)
    y = wave[1:]
    return x, y


class Forecaster(nn.Module):
    def __init__(self, hidden=48):
        super().__init__()
        self.rnn = nn.GRU(F, hidden)          # time-first input (T, B, F)
        self.out = nn.Linear(hidden, 1)

    def forward(self, x):
        h, _ = self.rnn(x)
        return self.out(h)


def sequence_loss(pred, target):
    return ((pred - target) ** 2).sum()


model = Forecaster()
opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)

for it in range(1, 201):
    x, y = make_batch()
    pred = model(x)
    loss = sequence_loss(pred, y)
    opt.zero_grad()
    loss.backward()
    opt.step()
    if it == 1 or it % 20 == 0:
        per_step = loss.item() / (T * B)
        print(f"iter {it:4d}  loss {loss.item():.3f}  (per step {per_step:.4f})")
