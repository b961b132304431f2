# source: https://stats.stackexchange.com/questions/45087/why-doesnt-backpropagation-work-when-you-initialize-the-weights-the-same-value/45260
# expect: symmetric-units
# category: classification
# bug: every Linear layer's weight is set to the same constant 0.1, so all hidden units stay copies of each other
import math
import torch
import torch.nn as nn

torch.manual_seed(0)

# 4 interleaved spiral arms
n_per = 200
xs, ys = [], []
for k in range(4):
    t = torch.linspace(0.3, 3.5, n_per)
    ang = t + k * math.pi / 2 + 0.15 * torch.randn(n_per)
    xs.append(torch.stack([t * torch.cos(ang), t * torch.sin(ang)], 1))
    ys.append(torch.full((n_per,), k))
X = torch.cat(xs)
Y = torch.cat(ys)

model = nn.Sequential(
    nn.Linear(2, 64),
    nn.ReLU(),
    nn.Linear(64, 64),
    nn.ReLU(),
    nn.Linear(64, 4),
)
for m in model.modules():
    if isinstance(m, nn.Linear):
        nn.init.constant_(m.weight, 0.1)
        nn.init.constant_(m.bias, 0.0)

loss_fn = nn.CrossEntropyLoss()
optimizer = torch.optim.SGD(model.parameters(), lr=0.01)

for step in range(300):
    idx = torch.randint(0, len(X), (64,))
    out = model(X[idx])
    loss = loss_fn(out, Y[idx])
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    if step % 50 == 0 or step == 299:
        with torch.no_grad():
            acc = (model(X).argmax(1) == Y).float().mean().item()
        print(f"step {step} loss {loss.item():.4f} acc {acc:.3f}")
