"""Broken: the classifier head is replaced after the optimizer was built; it never trains."""
import torch
from torch import nn

from toydata import blobs


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(20, 64), nn.ReLU())
        self.head = nn.Linear(64, 5)

    def forward(self, x):
        return self.head(self.body(x))


torch.manual_seed(0)
x, y = blobs()
model = Net()
opt = torch.optim.Adam(model.parameters(), lr=1e-3)
model.head = nn.Linear(64, 10)  # the task has 10 classes; opt still holds the old head

for epoch in range(5):
    for i in range(0, len(x), 64):
        opt.zero_grad()
        loss = nn.functional.cross_entropy(model(x[i:i + 64]), y[i:i + 64])
        loss.backward()
        opt.step()
    print(f"epoch {epoch} loss {loss.item():.4f}")
