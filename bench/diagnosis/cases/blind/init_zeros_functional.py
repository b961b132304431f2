# source: https://github.com/tensorflow/models/issues/1529
# expect: symmetric-units
# category: regression
# bug: the hand-written MLP creates every weight matrix with torch.zeros, so the tanh hidden units are all zero and identical and no weight but the output bias ever gets a gradient
import math
import torch

torch.manual_seed(0)

# 1-D curve fitting on a noisy damped sine
x = torch.linspace(-3, 3, 512).unsqueeze(1)
y = torch.exp(-0.2 * x.abs()) * torch.sin(2 * x) + 0.05 * torch.randn_like(x)


def weight_variable(*shape):
    return torch.zeros(*shape, requires_grad=True)


def bias_variable(n):
    return torch.zeros(n, requires_grad=True)


W1, b1 = weight_variable(1, 40), bias_variable(40)
W2, b2 = weight_variable(40, 40), bias_variable(40)
W3, b3 = weight_variable(40, 1), bias_variable(1)
params = [W1, b1, W2, b2, W3, b3]


def mlp(inp):
    h = torch.tanh(inp @ W1 + b1)
    h = torch.tanh(h @ W2 + b2)
    return h @ W3 + b3


optimizer = torch.optim.Adam(params, lr=1e-2)
for it in range(400):
    idx = torch.randint(0, len(x), (64,))
    loss = ((mlp(x[idx]) - y[idx]) ** 2).mean()
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    if it % 40 == 0 or it == 399:
        with torch.no_grad():
            full = ((mlp(x) - y) ** 2).mean().item()
        print(f"it {it:3d}  batch_mse {loss.item():.4f}  full_mse {full:.4f}")
