# source: https://github.com/pytorch/tutorials/pull/187
# expect: healthy
# category: regression
# bug: none — the MSE is summed over the batch (reduction='sum') and the SGD learning rate is divided by the batch size to match
import torch
import torch.nn as nn

torch.manual_seed(0)

N, D = 4096, 10
X = torch.randn(N, D)
w = torch.randn(D, 1)
y = torch.sin(X[:, :1] * 2) + X @ w * 0.3 + 0.05 * torch.randn(N, 1)

BATCH = 128
BASE_LR = 0.05  # per-sample rate
model = nn.Sequential(nn.Linear(D, 64), nn.GELU(), nn.Linear(64, 64), nn.GELU(), nn.Linear(64, 1))
criterion = nn.MSELoss(reduction="sum")
optimizer = torch.optim.SGD(model.parameters(), lr=BASE_LR / BATCH, momentum=0.9)

perm = torch.randperm(N)
step = 0
for epoch in range(10):
    perm = torch.randperm(N)
    for i in range(0, N, BATCH):
        idx = perm[i:i + BATCH]
        pred = model(X[idx])
        loss = criterion(pred, y[idx])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        step += 1
        if step % 40 == 0:
            print(f"epoch {epoch}  step {step:3d}  sum_loss {loss.item():8.3f}  per_sample {loss.item() / len(idx):.4f}")
