# source: https://github.com/pytorch/pytorch/pull/1792
# expect: unstable-log-prob, nonfinite-forward
# category: classification
# bug: binary cross-entropy is written by hand as -(y*log(sigmoid(z)) + (1-y)*log(1-sigmoid(z))); once a logit is confidently large, sigmoid rounds to exactly 0 or 1 in float32, log gives -inf and the loss and gradients become inf/NaN (BCEWithLogits is the stable form)
"""Click-through prediction with a hand-written BCE."""
import torch
import torch.nn as nn

torch.manual_seed(0)

N, D = 4000, 20
X = torch.randn(N, D) * 3.0
w_true = torch.randn(D)
y = ((X @ w_true + 0.5 * torch.randn(N)) > 0).float()
y[torch.randperm(N)[:200]] = 1 - y[torch.randperm(N)[:200]]   # some label noise


def bce(logits, target):
    p = torch.sigmoid(logits)
    return -(target * torch.log(p) + (1 - target) * torch.log(1 - p)).mean()


model = nn.Sequential(nn.Linear(D, 128), nn.ReLU(), nn.Linear(128, 1))
opt = torch.optim.Adam(model.parameters(), lr=1e-2)

step = 0
for epoch in range(8):
    perm = torch.randperm(N)
    for i in range(0, N, 200):
        idx = perm[i:i + 200]
        loss = bce(model(X[idx]).squeeze(1), y[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % 8 == 0:
            print(f"epoch {epoch}  step {step:3d}  loss {loss.item():.4f}")
        step += 1
