# source: https://github.com/amanshenoy/multilogue-net/issues/21
# expect: class-weights-inverted
# category: tabular
# bug: the class weights are inverse frequencies listed in the wrong order - the frequent class 0 gets 1/p(rare) and the rare class 1 gets 1/p(frequent) - so the loss amplifies the imbalance instead of correcting it and the rare class is never predicted
"""Rare-event tabular classifier (about 8% positives); weighted CrossEntropyLoss; AdamW; DataLoader."""
import numpy as np
import torch
import torch.nn as nn
from torch.utils.data import DataLoader, TensorDataset

rng = np.random.default_rng(31)
torch.manual_seed(31)

N = 4000
y = (rng.random(N) < 0.08).astype(np.int64)            # 1 = rare event
shift = np.array([1.3, -1.0, 0.8, 0.0, 0.6, -0.4, 0.0, 0.0])
x = rng.standard_normal((N, 8)) + np.outer(y, shift)
x = ((x - x.mean(0)) / x.std(0)).astype(np.float32)

p_event = y.mean()
p_no_event = 1 - p_event
# "inverse frequency" weights
loss_weights = torch.tensor([1 / p_event, 1 / p_no_event], dtype=torch.float32)
print(f"p(event)={p_event:.3f}  weights {loss_weights.tolist()}")

loader = DataLoader(TensorDataset(torch.from_numpy(x), torch.from_numpy(y)), batch_size=128, shuffle=True)
model = nn.Sequential(nn.Linear(8, 32), nn.ReLU(), nn.Linear(32, 32), nn.ReLU(), nn.Linear(32, 2))
criterion = nn.CrossEntropyLoss(weight=loss_weights)
optimizer = torch.optim.AdamW(model.parameters(), lr=2e-3)

X_all, Y_all = torch.from_numpy(x), torch.from_numpy(y)
for epoch in range(10):
    total = 0.0
    for xb, yb in loader:
        optimizer.zero_grad()
        loss = criterion(model(xb), yb)
        loss.backward()
        optimizer.step()
        total += loss.item()
    if epoch % 3 == 0 or epoch == 9:
        with torch.no_grad():
            pred = model(X_all).argmax(1)
        recall_rare = ((pred == 1) & (Y_all == 1)).sum().item() / (Y_all == 1).sum().item()
        recall_common = ((pred == 0) & (Y_all == 0)).sum().item() / (Y_all == 0).sum().item()
        print(f"epoch {epoch:2d}  loss {total / len(loader):.4f}  recall(event) {recall_rare:.3f}  recall(no event) {recall_common:.3f}")
