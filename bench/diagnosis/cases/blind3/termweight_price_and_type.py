# source: https://www.book-ai.org/books/predictive-maintenance/chapter-04/section-03
# expect: loss-imbalance, metric-competing-losses
# category: multi-loss
# bug: a two-head net adds an MSE on raw prices in dollars (~1e10) to a cross-entropy of ~1 with equal weight; the price term drives the shared trunk and the property-type head never learns (acc stays ~0.5 vs ~0.97 alone)
import torch
import torch.nn as nn

torch.manual_seed(14)

n = 3000
X = torch.randn(n, 10)
price = 250000 + 60000 * X[:, 0] + 30000 * X[:, 1] - 20000 * X[:, 2] + 5000 * torch.randn(n)
ptype = ((X[:, 5] + X[:, 6] > 0).long() + (X[:, 7] > 0.8).long())   # 3 property types


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
        loss_price = mse(p, price[idx])
        loss_type = ce(logits, ptype[idx])
        loss = loss_price + loss_type
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        p, logits = model(X)
        acc = (logits.argmax(1) == ptype).float().mean().item()
        rmse = ((p - price) ** 2).mean().sqrt().item()
    print(f"epoch {epoch} loss {loss.item():.4g} price rmse {rmse:.0f} type ce {loss_type.item():.4f} type acc {acc:.3f}")
