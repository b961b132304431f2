# source: https://discuss.pytorch.org/t/tricks-for-being-able-to-use-a-higher-learning-rate/142179
# expect: healthy
# category: sequence
# bug: none - a per-batch LambdaLR schedule that starts near zero (linear warm-up over the first 60 steps) and then decays by a cosine to 10% of the peak at the end of training; the learning rate is tiny at first by design
import math

import torch
import torch.nn as nn

torch.manual_seed(15)

T, B, F_IN, H = 20, 32, 4, 32
TOTAL_STEPS, WARMUP = 500, 60


def batch():
    x = torch.randn(T, B, F_IN)  # sequence-first
    target = x[:, :, 0].sum(0).unsqueeze(-1) / T ** 0.5
    return x, target


class SeqRegressor(nn.Module):
    def __init__(self):
        super().__init__()
        self.rnn = nn.GRU(F_IN, H)
        self.head = nn.Linear(H, 1)

    def forward(self, x):
        out, _ = self.rnn(x)
        return self.head(out[-1])


def lr_lambda(step):
    if step < WARMUP:
        return (step + 1) / WARMUP
    progress = (step - WARMUP) / max(1, TOTAL_STEPS - WARMUP)
    return 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress))


model = SeqRegressor()
opt = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=0.01)
sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_lambda)

for step in range(TOTAL_STEPS):
    x, target = batch()
    loss = nn.functional.mse_loss(model(x), target)
    opt.zero_grad()
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    opt.step()
    sched.step()
    if step % 50 == 0:
        print(f"step {step:3d}  loss {loss.item():.4f}  lr {sched.get_last_lr()[0]:.2e}")
