# source: https://github.com/IDEA-Research/DAB-DETR/issues/58
# expect: healthy
# category: tabular
# bug: none; gradients are deliberately accumulated over 4 micro-batches (loss / 4) and zeroed after every optimizer.step()
import torch
import torch.nn as nn

torch.manual_seed(17)

n, d = 4096, 24
X = torch.randn(n, d)
true_w = torch.randn(d)
logit = X @ true_w / d ** 0.5 + 0.8 * torch.tanh(X[:, 0] * X[:, 1])
y = (logit + 0.2 * torch.randn(n) > 0).float()

model = nn.Sequential(nn.Linear(d, 64), nn.ReLU(), nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 1))
criterion = nn.BCEWithLogitsLoss()
optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)

accum_steps = 4
micro_bs = 32
optimizer.zero_grad()
updates = 0
running = 0.0
for it in range(1200):
    idx = torch.randint(0, n, (micro_bs,))
    loss = criterion(model(X[idx]).squeeze(1), y[idx])
    (loss / accum_steps).backward()
    running += loss.item()
    if (it + 1) % accum_steps == 0:
        optimizer.step()
        optimizer.zero_grad()
        updates += 1
        if updates % 30 == 0 or updates == 1:
            print(f"update {updates:3d}  loss {running / accum_steps:.4f}")
        running = 0.0

with torch.no_grad():
    acc = ((model(X).squeeze(1) > 0).float() == y).float().mean().item()
print(f"train accuracy {acc:.3f}")
