# source: https://github.com/reczoo/FuxiCTR/issues/30
# expect: layout-scrambled
# category: sequence
# bug: multi-head self-attention splits heads with q.view(B * heads, -1, d_head) instead of view(B, T, heads, d_head).transpose(1, 2), and merges them back with a plain view, mixing positions and heads
import math
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(0)
VOCAB, T, B = 12, 10, 32


class SelfAttention(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.heads, self.d_head = heads, dim // heads
        self.q = nn.Linear(dim, dim)
        self.k = nn.Linear(dim, dim)
        self.v = nn.Linear(dim, dim)
        self.out = nn.Linear(dim, dim)

    def forward(self, x):
        bsz = x.size(0)
        q = self.q(x).view(bsz * self.heads, -1, self.d_head)
        k = self.k(x).view(bsz * self.heads, -1, self.d_head)
        v = self.v(x).view(bsz * self.heads, -1, self.d_head)
        att = torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(self.d_head), dim=-1)
        ctx = (att @ v).view(bsz, -1, self.heads * self.d_head)
        return self.out(ctx)


class Tagger(nn.Module):
    def __init__(self, dim=64, heads=4):
        super().__init__()
        self.tok = nn.Embedding(VOCAB, dim)
        self.pos = nn.Parameter(torch.randn(T, dim) * 0.1)
        self.attn1 = SelfAttention(dim, heads)
        self.attn2 = SelfAttention(dim, heads)
        self.norm1 = nn.LayerNorm(dim)
        self.norm2 = nn.LayerNorm(dim)
        self.ff = nn.Sequential(nn.Linear(dim, 128), nn.ReLU(), nn.Linear(128, dim))
        self.head = nn.Linear(dim, VOCAB)

    def forward(self, tokens):
        h = self.tok(tokens) + self.pos
        h = h + self.attn1(self.norm1(h))
        h = h + self.attn2(self.norm2(h))
        h = h + self.ff(h)
        return self.head(h)


def batch():
    x = torch.randint(0, VOCAB, (B, T))
    return x, x.flip(1)          # tag each position with the token mirrored across the sequence


model = Tagger()
opt = torch.optim.Adam(model.parameters(), lr=2e-3)
for step in range(400):
    x, y = batch()
    logits = model(x)
    loss = F.cross_entropy(logits.reshape(-1, VOCAB), y.reshape(-1))
    opt.zero_grad()
    loss.backward()
    opt.step()
    if step % 50 == 0 or step == 399:
        acc = (logits.argmax(-1) == y).float().mean().item()
        print(f"step {step} loss {loss.item():.4f} token_acc {acc:.3f}")
