# source: https://runebook.dev/zh/docs/pytorch/generated/torch.nn.parameter.parameter
# expect: params-not-in-optimizer
# category: classification
# bug: the softmax-regression head is two plain tensors created with requires_grad=True outside the module; the optimizer only gets encoder.parameters(), so the zero-initialised head never moves
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(12)

n, d, k = 3000, 16, 5
centers = torch.randn(k, d) * 1.5
target = torch.randint(0, k, (n,))
inputs = centers[target] + torch.randn(n, d)

encoder = nn.Sequential(nn.Linear(d, 64), nn.ReLU(), nn.Linear(64, 32), nn.ReLU())
W = torch.zeros(32, k, requires_grad=True)
b = torch.zeros(k, requires_grad=True)

optimizer = torch.optim.Adam(encoder.parameters(), lr=1e-3)


def predict(x):
    return encoder(x) @ W + b


for step in range(300):
    idx = torch.randint(0, n, (64,))
    logits = predict(inputs[idx])
    loss = F.cross_entropy(logits, target[idx])
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    if step % 30 == 0 or step == 299:
        with torch.no_grad():
            acc = (predict(inputs).argmax(1) == target).float().mean()
        print(f"[{step:03d}] loss={loss.item():.4f} acc={acc:.3f}")
