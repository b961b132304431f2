# source: https://github.com/deepset-ai/FARM/issues/229
# expect: broadcast-loss
# category: regression
# bug: the model outputs (B, 1) while the labels are (B,); MSELoss broadcasts them to (B, B) (only a UserWarning), so every prediction is fit to every label and the model learns the batch mean
"""A regression head on synthetic 'document features', labels in [0, 16]."""
import torch
import torch.nn as nn
from torch.utils.data import DataLoader, Dataset

torch.manual_seed(7)


class ScoreDataset(Dataset):
    def __init__(self, n=1536, d=12):
        self.x = torch.randn(n, d)
        w = torch.randn(d) / d ** 0.5
        self.y = (8 + 4 * torch.sin(self.x @ w * 2) + self.x[:, 0]).clamp(0, 16)    # shape (n,)

    def __len__(self):
        return len(self.y)

    def __getitem__(self, i):
        return {"features": self.x[i], "label": self.y[i]}


class RegressionHead(nn.Module):
    def __init__(self, d=12):
        super().__init__()
        self.mlp = nn.Sequential(nn.Linear(d, 64), nn.GELU(), nn.Linear(64, 1))

    def forward(self, x):
        return self.mlp(x)                 # (B, 1)


ds = ScoreDataset()
loader = DataLoader(ds, batch_size=32, shuffle=True)
model = RegressionHead()
opt = torch.optim.AdamW(model.parameters(), lr=2e-3)
criterion = nn.MSELoss()

for epoch in range(25):
    running = 0.0
    for batch in loader:
        pred = model(batch["features"])
        loss = criterion(pred, batch["label"])     # BUG: (B, 1) vs (B,) broadcasts to (B, B)
        opt.zero_grad()
        loss.backward()
        opt.step()
        running += loss.item()
    if epoch % 3 == 0 or epoch == 24:
        with torch.no_grad():
            p = model(ds.x).squeeze(1)
            true_mse = ((p - ds.y) ** 2).mean().item()
        print(f"epoch {epoch:2d}  loss {running / len(loader):.3f}  true mse {true_mse:.3f}  label var {ds.y.var().item():.3f}  pred std {p.std().item():.3f}")
