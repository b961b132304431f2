# source: https://github.com/KempnerInstitute/KempnerForge/issues/154
# expect: target-not-shifted, label-leakage
# category: lm
# bug: the causal LM is trained with labels == input_ids at the same positions (no shift by one), so each position only has to copy the token it already sees; the loss collapses to ~0 and the model predicts nothing
"""A tiny GPT-style character model on a generated corpus.

The decoder is properly causal (scaled_dot_product_attention with is_causal=True); the bug is in
the targets, not in the model.
"""
import math
import random

import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(0)
random.seed(0)

SUBJECTS = ["the cat", "a dog", "my aunt", "the robot", "our teacher", "a bird"]
VERBS = ["sees", "likes", "paints", "follows", "hears", "finds"]
OBJECTS = ["the moon", "a red ball", "the old tree", "some bread", "the river", "a small boat"]


def corpus(n_sentences):
    return " ".join(f"{random.choice(SUBJECTS)} {random.choice(VERBS)} {random.choice(OBJECTS)}."
                    for _ in range(n_sentences))


text = corpus(3000)
chars = sorted(set(text))
stoi = {c: i for i, c in enumerate(chars)}
data = torch.tensor([stoi[c] for c in text], dtype=torch.long)
V, CTX, D, H = len(chars), 32, 64, 4


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.ln1, self.ln2 = nn.LayerNorm(D), nn.LayerNorm(D)
        self.qkv = nn.Linear(D, 3 * D)
        self.proj = nn.Linear(D, D)
        self.mlp = nn.Sequential(nn.Linear(D, 4 * D), nn.GELU(), nn.Linear(4 * D, D))

    def forward(self, x):
        b, t, _ = x.shape
        q, k, v = self.qkv(self.ln1(x)).split(D, dim=2)
        q, k, v = (z.view(b, t, H, D // H).transpose(1, 2) for z in (q, k, v))
        a = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        x = x + self.proj(a.transpose(1, 2).reshape(b, t, D))
        return x + self.mlp(self.ln2(x))


class TinyGPT(nn.Module):
    def __init__(self):
        super().__init__()
        self.tok = nn.Embedding(V, D)
        self.pos = nn.Embedding(CTX, D)
        self.blocks = nn.Sequential(Block(), Block())
        self.ln = nn.LayerNorm(D)
        self.head = nn.Linear(D, V, bias=False)

    def forward(self, idx):
        pos = torch.arange(idx.shape[1])
        return self.head(self.ln(self.blocks(self.tok(idx) + self.pos(pos))))


def get_batch(bs=32):
    starts = torch.randint(0, len(data) - CTX - 1, (bs,))
    x = torch.stack([data[s:s + CTX] for s in starts])
    y = x.clone()                       # labels = input_ids
    return x, y


model = TinyGPT()
optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=0.01)
print(f"vocab {V}, chance loss {math.log(V):.3f}")

for step in range(150):
    x, y = get_batch()
    logits = model(x)
    loss = F.cross_entropy(logits.view(-1, V), y.view(-1))
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    if step % 15 == 0:
        print(f"step {step:3d} loss {loss.item():.4f}")

# what the model was meant to learn: the next character
with torch.no_grad():
    starts = torch.randint(0, len(data) - CTX - 1, (64,))
    x = torch.stack([data[s:s + CTX] for s in starts])
    nxt = torch.stack([data[s + 1:s + CTX + 1] for s in starts])
    print(f"next-char loss {F.cross_entropy(model(x).view(-1, V), nxt.view(-1)).item():.3f}")
