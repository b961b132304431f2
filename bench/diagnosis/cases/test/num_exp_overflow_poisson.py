# source: https://github.com/tensorflow/models/pull/8221
# expect: nonfinite-forward
# category: regression
# bug: a Poisson rate model ends in an unguarded exp(); on unscaled count data one SGD step pushes the log-rate past ~88, exp overflows to inf and the hand-written Poisson NLL (rate - y * log(rate)) becomes inf/NaN
import numpy as np
import torch
import torch.nn as nn

torch.manual_seed(1)
rng = np.random.default_rng(1)

# claims data: exposure hours, age, vehicle power, ... (not standardised)
N = 2048
hours = rng.uniform(0, 40, N)
age = rng.uniform(18, 80, N)
power = rng.uniform(50, 300, N)
urban = rng.integers(0, 2, N)
X = np.stack([hours, age, power, urban], axis=1).astype(np.float32)
true_log_rate = 0.08 * hours - 0.01 * age + 0.004 * power + 0.5 * urban
y = rng.poisson(np.exp(true_log_rate)).astype(np.float32)

X_t = torch.from_numpy(X)
y_t = torch.from_numpy(y)


class ExpRate(nn.Module):
    def forward(self, z):
        return torch.exp(z)  # log-rate -> rate


model = nn.Sequential(
    nn.Linear(4, 32),
    nn.ReLU(),
    nn.Linear(32, 1),
    ExpRate(),
)


def poisson_nll(rate, counts):
    return (rate - counts * torch.log(rate)).mean()


opt = torch.optim.SGD(model.parameters(), lr=1e-3)

step = 0
for epoch in range(6):
    perm = torch.randperm(N)
    for b in range(0, N, 128):
        idx = perm[b:b + 128]
        rate = model(X_t[idx]).squeeze(-1)
        loss = poisson_nll(rate, y_t[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step < 5:
            print(f"step {step}  poisson nll {loss.item():.4f}  max rate {rate.max().item():.4g}")
        step += 1
    print(f"epoch {epoch:2d}  poisson nll {loss.item():.4f}")
