# source: https://stats.stackexchange.com/questions/45087/why-doesnt-backpropagation-work-when-you-initialize-the-weights-the-same-value
# expect: healthy
# category: classification
# bug: none; only the output layer is zero-initialised (hidden layers random), a legitimate trick that keeps units distinct
import math
import torch
import torch.nn as nn

torch.manual_seed(10)

n_per = 200
xs, ys = [], []
for k in range(4):
    t = torch.linspace(0.3, 3.5, n_per)
    ang = t + k * math.pi / 2 + 0.15 * torch.randn(n_per)
    xs.append(torch.stack([t * torch.cos(ang), t * torch.sin(ang)], 1))
    ys.append(torch.full((n_per,), k))
X = torch.cat(xs)
Y = torch.cat(ys)


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(2, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU())
        self.out = nn.Linear(64, 4)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(self, x):
        return self.out(self.body(x))


model = Net()
optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
for step in range(300):
    idx = torch.randint(0, len(X), (64,))
    loss = nn.functional.cross_entropy(model(X[idx]), Y[idx])
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    if step % 50 == 0 or step == 299:
        with torch.no_grad():
            acc = (model(X).argmax(1) == Y).float().mean().item()
        print(f"step {step} loss {loss.item():.4f} acc {acc:.3f}")
