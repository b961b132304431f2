"""Broken: a (B, T, D) tensor is reshaped with view(T, B, D) where transpose was meant,
so the running mean over "time" actually averages across samples of the batch."""
import torch
import torch.nn.functional as F
from torch import nn

from toydata import sequences


class RunningMeanLM(nn.Module):
    def __init__(self, vocab=16, dim=32):
        super().__init__()
        self.emb = nn.Embedding(vocab, dim)
        self.mix = nn.Linear(2 * dim, dim)
        self.head = nn.Linear(dim, vocab)

    def forward(self, idx):
        h = self.emb(idx)                          # (B, T, D)
        B, T, D = h.shape
        ht = h.view(T, B, D)                       # meant: h.transpose(0, 1)
        steps = torch.arange(1, T + 1, dtype=h.dtype).view(T, 1, 1)
        context = (ht.cumsum(0) / steps).view(B, T, D)  # meant: .transpose(0, 1)
        return self.head(torch.relu(self.mix(torch.cat([h, context], -1))))


torch.manual_seed(0)
data = sequences()
model = RunningMeanLM()
opt = torch.optim.Adam(model.parameters(), lr=3e-3)
for step in range(150):
    batch = data[torch.randint(0, len(data), (32,))]
    logits = model(batch[:, :-1])
    loss = F.cross_entropy(logits.reshape(-1, 16), batch[:, 1:].reshape(-1))
    opt.zero_grad()
    loss.backward()
    opt.step()
    if step % 50 == 0:
        print(f"step {step} loss {loss.item():.4f}")
