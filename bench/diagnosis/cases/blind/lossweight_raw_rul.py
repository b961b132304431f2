# source: https://www.book-ai.org/books/predictive-maintenance/chapter-04/section-03
# expect: loss-imbalance, unnormalized-targets, metric-competing-losses
# category: multi-loss
# bug: remaining-useful-life is regressed in raw cycles (MSE ~1e4) and simply added to the health-state cross-entropy (~1), so the shared trunk ignores the health task
import numpy as np
import torch
import torch.nn as nn
from torch.utils.data import Dataset, DataLoader

torch.manual_seed(0)
np.random.seed(0)


class EngineDataset(Dataset):
    def __init__(self, n):
        rng = np.random.default_rng(n)
        self.sensors = rng.normal(size=(n, 12)).astype(np.float32)
        s = self.sensors
        self.rul = (150 + 60 * s[:, 0] - 40 * s[:, 1] + 30 * np.tanh(s[:, 2] * s[:, 3])).astype(np.float32)
        # health state comes from the vibration channels, not from the RUL drivers
        score = s[:, 6] * s[:, 7] + 0.8 * np.abs(s[:, 8]) - 0.6
        self.health = np.digitize(score, [-0.4, 0.4]).astype(np.int64)

    def __len__(self):
        return len(self.rul)

    def __getitem__(self, i):
        return torch.from_numpy(self.sensors[i]), torch.tensor(self.rul[i]), torch.tensor(self.health[i])


class MultiTaskNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.trunk = nn.Sequential(nn.Linear(12, 64), nn.ReLU(), nn.Linear(64, 32), nn.ReLU())
        self.rul_head = nn.Linear(32, 1)
        self.health_head = nn.Linear(32, 3)

    def forward(self, x):
        h = self.trunk(x)
        return self.rul_head(h).squeeze(-1), self.health_head(h)


train_loader = DataLoader(EngineDataset(3000), batch_size=100, shuffle=True)
val_set = EngineDataset(800)
val_x = torch.from_numpy(val_set.sensors)
val_h = torch.from_numpy(val_set.health)

model = MultiTaskNet()
optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
mse = nn.MSELoss()
ce = nn.CrossEntropyLoss()


def train(epochs):
    step = 0
    for epoch in range(epochs):
        for x, rul, health in train_loader:
            rul_pred, health_logits = model(x)
            loss_rul = mse(rul_pred, rul)
            loss_health = ce(health_logits, health)
            loss = loss_rul + loss_health
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            step += 1
        with torch.no_grad():
            _, logits = model(val_x)
            acc = (logits.argmax(1) == val_h).float().mean().item()
        print(f"epoch {epoch:2d} step {step}  loss {loss.item():9.2f}  rul_mse {loss_rul.item():9.2f}  health_ce {loss_health.item():.4f}  health_acc {acc:.3f}")


print("health class balance:", np.bincount(val_set.health) / len(val_set.health))
train(12)
