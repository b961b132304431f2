# source: https://math.stackexchange.com/questions/2329675/is-it-possible-to-model-the-xor-gate-using-a-2-2-1-network-with-no-activation-fu
# expect: no-nonlinearity
# category: classification
# bug: the nn.Sequential stacks three Linear layers with no activation between them, so the "deep" net is one linear map and cannot separate concentric rings
import math
import torch
import torch.nn as nn

torch.manual_seed(33)


def rings(n):
    r = torch.where(torch.rand(n) < 0.5, torch.full((n,), 1.0), torch.full((n,), 2.5))
    theta = torch.rand(n) * 2 * math.pi
    pts = torch.stack([r * torch.cos(theta), r * torch.sin(theta)], 1) + 0.2 * torch.randn(n, 2)
    return pts, (r > 2).long()


X, y = rings(2000)

model = nn.Sequential(
    nn.Linear(2, 64),
    nn.Linear(64, 64),
    nn.Linear(64, 2),
)
optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
criterion = nn.CrossEntropyLoss()

for step in range(300):
    idx = torch.randint(0, len(X), (128,))
    out = model(X[idx])
    loss = criterion(out, y[idx])
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    if step % 30 == 0 or step == 299:
        with torch.no_grad():
            acc = (model(X).argmax(1) == y).float().mean().item()
        print(f"step {step:3d}  loss {loss.item():.4f}  accuracy {acc:.3f}")
