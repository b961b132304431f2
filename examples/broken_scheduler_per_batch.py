"""Broken: a per-epoch StepLR is stepped after every batch; the LR is gone within 40 batches."""
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from toydata import blobs

torch.manual_seed(0)
x, y = blobs(n=8192)
loader = DataLoader(TensorDataset(x, y), batch_size=32, shuffle=True)
model = nn.Sequential(nn.Linear(20, 64), nn.ReLU(), nn.Linear(64, 10))
opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
sched = torch.optim.lr_scheduler.StepLR(opt, step_size=10, gamma=0.1)  # meant: every 10 epochs
loss_fn = nn.CrossEntropyLoss()

for epoch in range(3):
    for xb, yb in loader:
        opt.zero_grad()
        loss = loss_fn(model(xb), yb)
        loss.backward()
        opt.step()
        sched.step()
    print(f"epoch {epoch} loss {loss.item():.4f} lr {sched.get_last_lr()[0]:.2e}")
