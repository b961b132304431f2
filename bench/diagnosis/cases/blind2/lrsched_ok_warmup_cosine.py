# source: https://github.com/crowsonkb/k-diffusion/issues/50
# expect: healthy
# category: regression
# bug: none; a per-step LambdaLR with a 20-step linear warmup then cosine decay to 0 over the 300 training steps, stepped once per optimizer step
import math
import torch
import torch.nn as nn

torch.manual_seed(27)


def make_series(n, window=24):
    t0 = torch.rand(n, 1) * 6.28
    freq = 0.2 + 0.3 * torch.rand(n, 1)
    t = torch.arange(window + 1).float()
    s = torch.sin(t0 + freq * t) + 0.05 * torch.randn(n, window + 1)
    return s[:, :window, None], s[:, window:]


class Forecaster(nn.Module):
    def __init__(self, hidden=32):
        super().__init__()
        self.gru = nn.GRU(1, hidden, batch_first=True)
        self.head = nn.Linear(hidden, 1)

    def forward(self, x):
        out, _ = self.gru(x)
        return self.head(out[:, -1])


total_steps, warmup_steps = 300, 20
model = Forecaster()
optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)


def warmup_cosine(step):
    if step < warmup_steps:
        return (step + 1) / warmup_steps
    progress = (step - warmup_steps) / (total_steps - warmup_steps)
    return 0.5 * (1.0 + math.cos(math.pi * progress))


scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, warmup_cosine)
loss_fn = nn.MSELoss()

for step in range(total_steps):
    x, y = make_series(64)
    loss = loss_fn(model(x), y)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    scheduler.step()
    if step % 30 == 0 or step == total_steps - 1:
        print(f"step {step:3d}  mse {loss.item():.5f}  lr {scheduler.get_last_lr()[0]:.2e}")
