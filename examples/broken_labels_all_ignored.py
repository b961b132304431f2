"""Broken: a label-masking bug sets every label to -100 (ignore_index); the loss is NaN."""
import torch
import torch.nn.functional as F
from torch import nn

from toydata import sequences

torch.manual_seed(0)
data = sequences()
pad_id = 0
model = nn.Sequential(nn.Embedding(16, 32), nn.Linear(32, 16))
opt = torch.optim.Adam(model.parameters(), lr=1e-3)

for step in range(100):
    batch = data[torch.randint(0, len(data), (16,))]
    labels = batch[:, 1:].clone()
    labels[labels != pad_id] = -100  # meant: labels[labels == pad_id] = -100
    labels[labels == pad_id] = -100
    logits = model(batch[:, :-1])
    loss = F.cross_entropy(logits.reshape(-1, 16), labels.reshape(-1))
    opt.zero_grad()
    loss.backward()
    opt.step()
    if step % 25 == 0:
        print(f"step {step} loss {loss.item():.4f}")
