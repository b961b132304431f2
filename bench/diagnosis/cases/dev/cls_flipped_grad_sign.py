# source: https://github.com/thedeepchecker/thedeepchecker/blob/main/buggy_synthetic_programs/flipped_sign/baseCNN_flip_sign.py
# expect: loss-sign-flipped
# category: classification
# bug: a hand-written SGD step adds the gradient (p += lr * grad) instead of subtracting it, so every update climbs the loss (TheDeepChecker's "flipped sign" fault)
"""Four Gaussian blobs in 16-d, an MLP, and a hand-rolled SGD loop (no torch.optim)."""
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(0)

N, D, C = 1024, 16, 4
centers = torch.randn(C, D) * 2.0
y_all = torch.randint(0, C, (N,))
x_all = centers[y_all] + torch.randn(N, D)


class MLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(D, 64)
        self.fc2 = nn.Linear(64, 64)
        self.out = nn.Linear(64, C)

    def forward(self, x):
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        return self.out(x)


model = MLP()
lr = 0.01
batch_size = 64


def sgd_step(params, lr):
    # "move the weights along the gradient"
    with torch.no_grad():
        for p in params:
            if p.grad is None:
                continue
            p += lr * p.grad
            p.grad.zero_()


step = 0
for epoch in range(8):
    perm = torch.randperm(N)
    for i in range(0, N, batch_size):
        idx = perm[i:i + batch_size]
        xb, yb = x_all[idx], y_all[idx]
        logits = model(xb)
        loss = F.cross_entropy(logits, yb)
        loss.backward()
        sgd_step(model.parameters(), lr)
        if step % 10 == 0:
            print(f"step {step:4d}  loss {loss.item():.4f}")
        step += 1

with torch.no_grad():
    acc = (model(x_all).argmax(1) == y_all).float().mean().item()
print(f"final loss {loss.item():.4f}  train acc {acc:.3f}")
