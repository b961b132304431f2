# source: https://discuss.pytorch.org/t/using-mseloss-instead-of-crossentropy-for-ordinal-regression-classification/102473
# expect: class-ids-regressed
# category: classification
# bug: nominal land-cover classes (ids 0..4 with no order) are regressed as one number with MSELoss and rounded, so overlapping classes are averaged into a third, unrelated class id
import math
import torch
import torch.nn as nn

torch.manual_seed(39)

N_CLASSES = 5
# spectral signatures: five land-cover classes around a circle
angles = torch.tensor([0.0, 2.5, 1.25, 3.75, 5.0])
centers = torch.stack([torch.cos(angles), torch.sin(angles)], 1) * 2.0


def pixels(n):
    cls = torch.randint(0, N_CLASSES, (n,))
    x = centers[cls] + 0.7 * torch.randn(n, 2)
    return torch.cat([x, x[:, :1] * x[:, 1:], x.pow(2)], 1), cls


X, labels = pixels(3000)

model = nn.Sequential(nn.Linear(5, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 1))
criterion = nn.MSELoss()
optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)

for step in range(300):
    idx = torch.randint(0, len(X), (128,))
    pred = model(X[idx]).squeeze(1)
    loss = criterion(pred, labels[idx].float())
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    if step % 30 == 0 or step == 299:
        with torch.no_grad():
            guess = model(X).squeeze(1).round().clamp(0, N_CLASSES - 1).long()
            acc = (guess == labels).float().mean().item()
        print(f"step {step:3d}  mse {loss.item():.4f}  accuracy {acc:.3f}")
