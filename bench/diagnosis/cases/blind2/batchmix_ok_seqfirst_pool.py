# source: https://github.com/pytorch/pytorch/issues/63560
# expect: healthy
# category: sequence
# bug: none — a sequence-first (T,B,D) GRU with attention pooling whose softmax runs over dim=0, which here is the time axis, not the batch
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(16)
T, F_in = 15, 3


def make(b):
    x = torch.randn(T, b, F_in)
    spike_t = torch.randint(0, T, (b,))
    y = torch.randint(0, 2, (b,))
    x[spike_t, torch.arange(b), 0] += torch.where(y == 1, 3.0, -3.0)
    return x, y


class AttnPoolGRU(nn.Module):
    def __init__(self, h=32):
        super().__init__()
        self.gru = nn.GRU(F_in, h)
        self.score = nn.Linear(h, 1)
        self.cls = nn.Linear(h, 2)

    def forward(self, x):
        out, _ = self.gru(x)                      # (T, B, H)
        w = torch.softmax(self.score(out), dim=0) # over time
        pooled = (w * out).sum(0)
        return self.cls(pooled)


model = AttnPoolGRU()
opt = torch.optim.Adam(model.parameters(), lr=3e-3)
for step in range(250):
    x, y = make(32)
    logits = model(x)
    loss = F.cross_entropy(logits, y)
    opt.zero_grad()
    loss.backward()
    opt.step()
    if step % 25 == 0:
        print(f"step {step} loss {loss.item():.4f} acc {(logits.argmax(1) == y).float().mean().item():.2f}")
