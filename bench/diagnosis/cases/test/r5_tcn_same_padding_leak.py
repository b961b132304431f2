# source: https://github.com/peustr/wavenet/issues/1
# expect: causal-leak, label-leakage
# category: sequence
# bug: the "causal" next-step forecaster uses Conv1d with symmetric ('same') padding, so the output at time t sees x[t+1], the very value it is trained to predict: the training loss collapses while free-running forecasts are useless
"""Dilated-conv next-step forecaster for an AR(2) signal, (batch, channels, time) layout."""
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(0)

B, T = 32, 128


def ar2_batch(n, t):
    x = torch.zeros(n, t)
    x[:, :2] = torch.randn(n, 2)
    for i in range(2, t):
        x[:, i] = 1.6 * x[:, i - 1] - 0.8 * x[:, i - 2] + 0.3 * torch.randn(n)
    return x.unsqueeze(1)            # (batch, 1, time)


class Forecaster(nn.Module):
    def __init__(self):
        super().__init__()
        # BUG: padding=k//2*d pads both sides -> outputs see the future; needs left-only padding
        self.c1 = nn.Conv1d(1, 32, 3, padding=1, dilation=1)
        self.c2 = nn.Conv1d(32, 32, 3, padding=2, dilation=2)
        self.c3 = nn.Conv1d(32, 32, 3, padding=4, dilation=4)
        self.out = nn.Conv1d(32, 1, 1)

    def forward(self, x):
        h = torch.relu(self.c1(x))
        h = torch.relu(self.c2(h)) + h
        h = torch.relu(self.c3(h)) + h
        return self.out(h)


model = Forecaster()
opt = torch.optim.Adam(model.parameters(), lr=2e-3)

data = ar2_batch(512, T)
for step in range(150):
    x = data[torch.randint(0, 512, (B,))]
    pred = model(x[:, :, :-1])              # predict x[t+1] from x[..t]
    loss = F.mse_loss(pred, x[:, :, 1:])
    opt.zero_grad()
    loss.backward()
    opt.step()
    if step % 30 == 0 or step == 149:
        print(f"step {step:3d}  teacher-forced mse {loss.item():.4f}  (noise floor 0.09)")

# free-running check: forecast 20 steps ahead one step at a time
with torch.no_grad():
    x = ar2_batch(64, 100)
    ctx = x[:, :, :80].clone()
    for _ in range(20):
        nxt = model(ctx)[:, :, -1:]
        ctx = torch.cat([ctx, nxt], 2)
    print(f"free-running 20-step mse {F.mse_loss(ctx[:, :, 80:], x[:, :, 80:]).item():.4f}  (signal variance {x.var().item():.3f})")
