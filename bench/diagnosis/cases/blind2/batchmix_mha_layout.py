# source: https://github.com/om-ai-lab/OmDet/issues/19
# expect: batch-mixing
# category: classification
# bug: nn.MultiheadAttention is built with the default batch_first=False but fed (B,T,D) tensors, so tokens attend across the batch instead of within their sequence
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(13)
V, T, D = 12, 10, 32


def sample(b):
    x = torch.randint(1, V, (b, T))
    key = torch.randint(1, V, (b,))
    has = torch.rand(b) < 0.5
    # put the query token at position 0, and maybe once more later in the sequence
    x[:, 0] = key
    x[:, 1:] = torch.where(x[:, 1:] == key.unsqueeze(1), (x[:, 1:] % (V - 1)) + 1, x[:, 1:])
    pos = torch.randint(1, T, (b,))
    x[has, pos[has]] = key[has]
    x[:, 1:] = torch.where((x[:, 1:] == key.unsqueeze(1)) & ~has.unsqueeze(1), (x[:, 1:] % (V - 1)) + 1, x[:, 1:])
    return x, has.long()


class RepeatDetector(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(V, D)
        self.pos = nn.Parameter(0.1 * torch.randn(T, D))
        self.attn = nn.MultiheadAttention(D, 4)
        self.ff = nn.Sequential(nn.Linear(D, 64), nn.ReLU(), nn.Linear(64, 2))

    def forward(self, tokens):
        h = self.emb(tokens) + self.pos           # (B, T, D)
        a, _ = self.attn(h, h, h)
        return self.ff(a[:, 0])


model = RepeatDetector()
opt = torch.optim.Adam(model.parameters(), lr=2e-3)
for step in range(300):
    x, y = sample(64)
    logits = model(x)
    loss = F.cross_entropy(logits, y)
    opt.zero_grad()
    loss.backward()
    opt.step()
    if step % 30 == 0:
        acc = (logits.argmax(1) == y).float().mean().item()
        print(f"step {step} loss {loss.item():.4f} acc {acc:.2f}")
