# source: https://github.com/amanshenoy/multilogue-net/issues/21
# expect: healthy
# category: tabular
# bug: none - imbalanced tabular classes with "balanced" class weights n / (C * count_c) in the order of the class indices, so the rare classes weigh more (the fix the issue asks for)
"""Imbalanced churn-like tabular data, dict batches, weighted CrossEntropyLoss, AdamW and StepLR."""
import numpy as np
import torch
import torch.nn as nn
from torch.utils.data import DataLoader, Dataset

rng = np.random.default_rng(5)
torch.manual_seed(5)

N = 2000
PRIORS = [0.75, 0.18, 0.07]
labels = rng.choice(3, size=N, p=PRIORS)
means = np.array([[0.0, 0.0, 0.0, 0.0, 0.0, 0.0],
                  [1.2, -0.8, 0.5, 0.0, 0.9, 0.0],
                  [-0.6, 1.4, -1.0, 0.8, 0.0, 0.7]])
features = means[labels] + rng.standard_normal((N, 6))
features = (features - features.mean(0)) / features.std(0)


class Table(Dataset):
    def __init__(self, x, y):
        self.x = torch.tensor(x, dtype=torch.float32)
        self.y = torch.tensor(y, dtype=torch.long)

    def __len__(self):
        return len(self.y)

    def __getitem__(self, i):
        return {"features": self.x[i], "label": self.y[i]}


ds = Table(features, labels)
loader = DataLoader(ds, batch_size=64, shuffle=True)

counts = np.bincount(labels, minlength=3)
class_weights = torch.tensor(N / (3 * counts), dtype=torch.float32)  # index c -> weight of class c
print("class counts", counts.tolist(), "weights", [round(w, 2) for w in class_weights.tolist()])

model = nn.Sequential(nn.Linear(6, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 3))
criterion = nn.CrossEntropyLoss(weight=class_weights)
optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=1e-2)
scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=8, gamma=0.5)


def recall_per_class(model):
    with torch.no_grad():
        pred = model(ds.x).argmax(1)
    return [((pred == c) & (ds.y == c)).sum().item() / max((ds.y == c).sum().item(), 1) for c in range(3)]


for epoch in range(12):
    total = 0.0
    for batch in loader:
        optimizer.zero_grad()
        loss = criterion(model(batch["features"]), batch["label"])
        loss.backward()
        optimizer.step()
        total += loss.item()
    scheduler.step()
    if epoch % 4 == 0 or epoch == 11:
        rec = recall_per_class(model)
        print(f"epoch {epoch:2d}  loss {total / len(loader):.4f}  recall " + " ".join(f"{r:.2f}" for r in rec))
