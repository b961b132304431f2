# source: https://github.com/facebookresearch/xformers/issues/1135
# expect: causal-leak
# category: lm
# bug: the causal self-attention builds its lower-triangular mask but never applies it, so every position attends to the tokens after it; the training loss falls far below what a causal model can reach
"""A minimal GPT (hand-written attention, register_buffer mask) on a generated character corpus.

Inputs x[t], targets x[t+1]: the shift is right.  The attention is not causal.
"""
import math
import random

import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(1)
random.seed(1)

WORDS = ["apple", "banana", "cherry", "grape", "lemon", "mango", "peach", "plum", "kiwi", "melon"]


def make_text(n_words):
    out = []
    for _ in range(n_words):
        w = random.choice(WORDS)
        out.append(w if random.random() < 0.7 else w.upper())
    return " ".join(out) + " "


text = make_text(6000)
vocab = sorted(set(text))
encode = {c: i for i, c in enumerate(vocab)}
tokens = torch.tensor([encode[c] for c in text])
V = len(vocab)
BLOCK, EMB, HEADS = 32, 64, 4


class CausalSelfAttention(nn.Module):
    def __init__(self):
        super().__init__()
        self.c_attn = nn.Linear(EMB, 3 * EMB)
        self.c_proj = nn.Linear(EMB, EMB)
        self.register_buffer("bias", torch.tril(torch.ones(BLOCK, BLOCK)).view(1, 1, BLOCK, BLOCK))

    def forward(self, x):
        B, T, C = x.size()
        q, k, v = self.c_attn(x).split(EMB, dim=2)
        k = k.view(B, T, HEADS, C // HEADS).transpose(1, 2)
        q = q.view(B, T, HEADS, C // HEADS).transpose(1, 2)
        v = v.view(B, T, HEADS, C // HEADS).transpose(1, 2)
        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(k.size(-1)))
        att = F.softmax(att, dim=-1)
        y = att @ v
        y = y.transpose(1, 2).contiguous().view(B, T, C)
        return self.c_proj(y)


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.ln_1 = nn.LayerNorm(EMB)
        self.attn = CausalSelfAttention()
        self.ln_2 = nn.LayerNorm(EMB)
        self.mlp = nn.Sequential(nn.Linear(EMB, 4 * EMB), nn.GELU(), nn.Linear(4 * EMB, EMB))

    def forward(self, x):
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


class GPT(nn.Module):
    def __init__(self):
        super().__init__()
        self.wte = nn.Embedding(V, EMB)
        self.wpe = nn.Embedding(BLOCK, EMB)
        self.h = nn.ModuleList([Block() for _ in range(2)])
        self.ln_f = nn.LayerNorm(EMB)
        self.lm_head = nn.Linear(EMB, V, bias=False)

    def forward(self, idx, targets=None):
        pos = torch.arange(idx.size(1), device=idx.device)
        x = self.wte(idx) + self.wpe(pos)
        for block in self.h:
            x = block(x)
        logits = self.lm_head(self.ln_f(x))
        loss = None
        if targets is not None:
            loss = F.cross_entropy(logits.view(-1, logits.size(-1)), targets.view(-1))
        return logits, loss


def get_batch(batch_size=32):
    ix = torch.randint(len(tokens) - BLOCK - 1, (batch_size,))
    x = torch.stack([tokens[i:i + BLOCK] for i in ix])
    y = torch.stack([tokens[i + 1:i + BLOCK + 1] for i in ix])
    return x, y


model = GPT()
optimizer = torch.optim.AdamW(model.parameters(), lr=2e-3, betas=(0.9, 0.95))

for it in range(200):
    xb, yb = get_batch()
    _, loss = model(xb, yb)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    optimizer.step()
    if it % 20 == 0:
        print(f"iter {it:3d} loss {loss.item():.4f}")

# greedy generation: the model cannot peek at tokens that do not exist yet
model.eval()
with torch.no_grad():
    idx = tokens[:8].unsqueeze(0)
    for _ in range(40):
        logits, _ = model(idx[:, -BLOCK:])
        idx = torch.cat([idx, logits[:, -1].argmax(-1, keepdim=True)], dim=1)
print("sample:", "".join(vocab[i] for i in idx[0].tolist()))
