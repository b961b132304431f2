# source: https://www.book-ai.org/books/predictive-maintenance/chapter-04/section-03
# expect: healthy
# category: multi-loss
# bug: the same two-head price/type net, with the price standardised before the MSE so both terms are O(1) and both heads learn
import torch
import torch.nn as nn

torch.manual_seed(14)

n = 3000
X = torch.randn(n, 10)
price = 250000 + 60000 * X[:, 0] + 30000 * X[:, 1] - 20000 * X[:, 2] + 5000 * torch.randn(n)
ptype = ((X[:, 5] + X[:, 6] > 0).long() + (X[:, 7] > 0.8).long())
p_mean, p_std = price.mean(), price.std()
price_z = (price - p_mean) / p_std


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.shared = nn.Sequential(nn.Linear(10, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU())
        self.price_head = nn.Linear(64, 1)
        self.type_head = nn.Linear(64, 3)

    def forward(self, x):
        h = self.shared(x)
        return self.price_head(h).squeeze(1), self.type_head(h)


model = Net()
mse = nn.MSELoss()
ce = nn.CrossEntropyLoss()
optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)

for epoch in range(10):
    perm = torch.randperm(n)
    for i in range(0, n, 100):
        idx = perm[i:i + 100]
        p, logits = model(X[idx])
        loss = mse(p, price_z[idx]) + ce(logits, ptype[idx])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        p, logits = model(X)
        acc = (logits.argmax(1) == ptype).float().mean().item()
        rmse = (((p * p_std + p_mean) - price) ** 2).mean().sqrt().item()
    print(f"epoch {epoch} loss {loss.item():.4f} price rmse {rmse:.0f} type acc {acc:.3f}")
