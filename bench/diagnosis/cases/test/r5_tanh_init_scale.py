# source: https://github.com/mukul-rathi/deep-learning-tutorials/issues/2
# expect: saturated-activations, vanishing-gradients
# category: regression
# bug: every layer (tanh output included) is initialised with std=1 instead of ~1/sqrt(fan_in), so with 128-wide layers pre-activations have std ~11, every tanh sits at +-1 and its gradient is ~0; training stalls
"""Tanh MLP with a tanh output, fitting a response surface scaled to [-1, 1]."""
import torch
import torch.nn as nn

torch.manual_seed(0)

N, D = 1500, 8
X = torch.randn(N, D)
raw = torch.sin(X[:, 0]) + 0.5 * X[:, 1] ** 2 - 0.3 * X[:, 2] * X[:, 3]
y = (0.9 * (2 * (raw - raw.min()) / (raw.max() - raw.min()) - 1)).unsqueeze(1)   # targets in [-0.9, 0.9]


def make_model():
    layers = []
    dims = [D, 128, 128, 1]
    for a, b in zip(dims[:-1], dims[1:]):
        lin = nn.Linear(a, b)
        nn.init.normal_(lin.weight, mean=0.0, std=1.0)    # BUG: far too large for fan_in 128
        layers += [lin, nn.Tanh()]
    return nn.Sequential(*layers)


model = make_model()
opt = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)

for epoch in range(12):
    perm = torch.randperm(N)
    tot = 0.0
    for i in range(0, N, 64):
        idx = perm[i:i + 64]
        loss = nn.functional.mse_loss(model(X[idx]), y[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
        tot += loss.item() * len(idx)
    if epoch % 4 == 0 or epoch == 11:
        print(f"epoch {epoch:2d}  mse {tot / N:.4f}  (target variance {y.var().item():.3f})")
