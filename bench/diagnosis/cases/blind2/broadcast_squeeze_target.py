# source: https://github.com/deepset-ai/FARM/issues/229
# expect: broadcast-loss, squeeze-without-dim
# category: tabular
# bug: the prediction is squeezed to (B,) while the Dataset returns each target as a (1,) tensor, so the loss sees (B,) against (B,1) and broadcasts to (B,B)
import torch
import torch.nn as nn
from torch.utils.data import Dataset, DataLoader

torch.manual_seed(4)


class HousePrices(Dataset):
    def __init__(self, n=900):
        self.x = torch.randn(n, 6)
        price = 2.0 * self.x[:, 0] - 1.5 * self.x[:, 1] + self.x[:, 2] * self.x[:, 3] + 0.1 * torch.randn(n)
        self.y = price

    def __len__(self):
        return len(self.x)

    def __getitem__(self, i):
        return self.x[i], self.y[i:i + 1]


def train(model, loader, epochs=12):
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    crit = nn.MSELoss()
    for ep in range(epochs):
        total, n = 0.0, 0
        for feats, price in loader:
            pred = model(feats).squeeze()
            loss = crit(pred, price)
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item() * len(feats)
            n += len(feats)
        print(f"epoch {ep} train loss {total / n:.4f}")


ds = HousePrices()
loader = DataLoader(ds, batch_size=25, shuffle=True)
model = nn.Sequential(nn.Linear(6, 48), nn.Tanh(), nn.Linear(48, 1))
train(model, loader)
with torch.no_grad():
    print("per-sample mse", ((model(ds.x)[:, 0] - ds.y) ** 2).mean().item(), "var", ds.y.var().item())
