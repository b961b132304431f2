# source: https://github.com/YangangCao/TRUNet/issues/4
# expect: batch-mixing
# category: sequence
# bug: the GRU is built with batch_first=True but the pipeline stacks frames into (time, batch, feature), so the recurrence runs across the samples of the batch instead of across time
"""Streaming smoother: predict an exponential moving average of a noisy signal, frame by frame.

Frames arrive one time step at a time and are stacked along dim 0, giving (T, B, F); the GRU was
declared batch-first.  Per-frame targets are stacked the same way, so every shape matches.
"""
import numpy as np
import torch
import torch.nn as nn

torch.manual_seed(0)
rng = np.random.default_rng(0)

T, B, F = 40, 32, 3
ALPHA = 0.2


def make_batch():
    frames, targets = [], []
    ema = np.zeros((B, 1), dtype=np.float32)
    for t in range(T):
        frame = rng.normal(0.0, 1.0, size=(B, F)).astype(np.float32)
        ema = (1 - ALPHA) * ema + ALPHA * frame[:, :1]
        frames.append(torch.from_numpy(frame))
        targets.append(torch.from_numpy(ema.copy()))
    return torch.stack(frames, dim=0), torch.stack(targets, dim=0)    # (T, B, F), (T, B, 1)


class Smoother(nn.Module):
    def __init__(self):
        super().__init__()
        self.gru = nn.GRU(F, 32, batch_first=True)
        self.head = nn.Linear(32, 1)

    def forward(self, frames):
        h, _ = self.gru(frames)
        return self.head(h)


model = Smoother()
optimizer = torch.optim.RMSprop(model.parameters(), lr=2e-3)
loss_fn = nn.MSELoss()

for step in range(160):
    x, y = make_batch()
    pred = model(x)
    loss = loss_fn(pred, y)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    if step % 20 == 0:
        print(f"step {step:3d} mse {loss.item():.5f}  (target variance {y.var().item():.5f})")
