# source: Stack Overflow "Implementing softmax by hand gives nan" / PyTorch forum "NaN after custom attention layer" — attention weights computed as exp(scores)/sum(exp(scores)) without subtracting the row max; cf. the softmax overflow discussion in the CS231n linear-classify notes ("Practical issues: Numeric stability")
# expect: nonfinite-forward, loss-nonfinite-region
# category: sequence
# bug: MultiHeadSelfAttention.attend() normalises with torch.exp(scores) / sum(torch.exp(scores)); with sqrt(d_model)-scaled embeddings the raw scores exceed ~88, exp() overflows to inf, inf/inf gives NaN attention weights and the loss becomes NaN
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(77)

VOCAB, SEQ, D_MODEL, N_HEADS = 36, 16, 64, 4


def make_batch(bs):
    """Distinct random tokens except one that occurs twice; label = the duplicated token."""
    x = torch.argsort(torch.rand(bs, VOCAB), dim=1)[:, :SEQ]
    src = torch.randint(0, SEQ, (bs,))
    dst = (src + torch.randint(1, SEQ, (bs,))) % SEQ
    x[torch.arange(bs), dst] = x[torch.arange(bs), src]
    y = x[torch.arange(bs), src]
    return x, y


class MultiHeadSelfAttention(nn.Module):
    def __init__(self, d, h):
        super().__init__()
        self.h, self.dk = h, d // h
        self.qkv = nn.Linear(d, 3 * d)
        self.o = nn.Linear(d, d)

    def attend(self, q, k, v):
        scores = q @ k.transpose(-2, -1) / math.sqrt(self.dk)
        w = torch.exp(scores)
        w = w / w.sum(dim=-1, keepdim=True)
        return w @ v

    def forward(self, x):
        B, T, D = x.shape
        q, k, v = self.qkv(x).view(B, T, 3, self.h, self.dk).permute(2, 0, 3, 1, 4)
        out = self.attend(q, k, v)
        return self.o(out.transpose(1, 2).reshape(B, T, D))


class EncoderLayer(nn.Module):
    def __init__(self, d, h):
        super().__init__()
        self.attn = MultiHeadSelfAttention(d, h)
        self.ff = nn.Sequential(nn.Linear(d, 2 * d), nn.ReLU(), nn.Linear(2 * d, d))
        self.n1, self.n2 = nn.LayerNorm(d), nn.LayerNorm(d)

    def forward(self, x):                    # post-LN as in Vaswani et al.
        x = self.n1(x + self.attn(x))
        return self.n2(x + self.ff(x))


class DuplicateFinder(nn.Module):
    def __init__(self):
        super().__init__()
        self.tok = nn.Embedding(VOCAB, D_MODEL)
        self.pos = nn.Embedding(SEQ, D_MODEL)
        self.layers = nn.ModuleList([EncoderLayer(D_MODEL, N_HEADS) for _ in range(2)])
        self.cls = nn.Linear(D_MODEL, VOCAB)

    def forward(self, x):
        h = self.tok(x) * math.sqrt(D_MODEL) + self.pos(torch.arange(x.size(1)))
        for layer in self.layers:
            h = layer(h)
        return self.cls(h.mean(dim=1))


model = DuplicateFinder()
opt = torch.optim.Adam(model.parameters(), lr=1e-3)
xv, yv = make_batch(500)
for step in range(1, 301):
    xb, yb = make_batch(64)
    loss = F.cross_entropy(model(xb), yb)
    opt.zero_grad()
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    opt.step()
    if step % 30 == 0:
        with torch.no_grad():
            acc = (model(xv).argmax(1) == yv).float().mean().item()
        print(f"step {step:3d} loss {loss.item():.4f} val_acc {acc:.3f}")
