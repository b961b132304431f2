# source: https://github.com/rasbt/LLMs-from-scratch/issues/1061
# expect: causal-leak, label-leakage
# category: lm
# bug: a torch.triu(..., diagonal=1).bool() "mask out the future" tensor is passed as attn_mask to F.scaled_dot_product_attention, where True means attend: each token attends only to the tokens after it
import math
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(0)

VOCAB, CTX, BATCH = 16, 24, 32


def make_corpus(n):
    toks = [0]
    for _ in range(n - 1):
        if torch.rand(1).item() < 0.7:
            toks.append((toks[-1] * 3 + 1) % VOCAB)
        else:
            toks.append(torch.randint(VOCAB, (1,)).item())
    return torch.tensor(toks)


class CausalSelfAttention(nn.Module):
    def __init__(self, d_model, n_heads, ctx):
        super().__init__()
        self.n_heads = n_heads
        self.qkv = nn.Linear(d_model, 3 * d_model)
        self.proj = nn.Linear(d_model, d_model)
        self.register_buffer("mask", torch.triu(torch.ones(ctx, ctx), diagonal=1).bool())

    def forward(self, x):
        B, T, C = x.shape
        q, k, v = self.qkv(x).split(C, dim=2)
        q = q.view(B, T, self.n_heads, C // self.n_heads).transpose(1, 2)
        k = k.view(B, T, self.n_heads, C // self.n_heads).transpose(1, 2)
        v = v.view(B, T, self.n_heads, C // self.n_heads).transpose(1, 2)
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=self.mask[:T, :T])
        y = y.transpose(1, 2).contiguous().view(B, T, C)
        return self.proj(y)


class Block(nn.Module):
    def __init__(self, d_model, n_heads, ctx):
        super().__init__()
        self.ln1 = nn.LayerNorm(d_model)
        self.attn = CausalSelfAttention(d_model, n_heads, ctx)
        self.ln2 = nn.LayerNorm(d_model)
        self.mlp = nn.Sequential(nn.Linear(d_model, 4 * d_model), nn.GELU(), nn.Linear(4 * d_model, d_model))

    def forward(self, x):
        x = x + self.attn(self.ln1(x))
        return x + self.mlp(self.ln2(x))


class TinyGPT(nn.Module):
    def __init__(self, vocab, ctx, d_model=48, n_heads=4, n_layers=2):
        super().__init__()
        self.tok = nn.Embedding(vocab, d_model)
        self.pos = nn.Embedding(ctx, d_model)
        self.blocks = nn.Sequential(*[Block(d_model, n_heads, ctx) for _ in range(n_layers)])
        self.ln_f = nn.LayerNorm(d_model)
        self.head = nn.Linear(d_model, vocab)

    def forward(self, idx):
        T = idx.size(1)
        x = self.tok(idx) + self.pos(torch.arange(T))
        return self.head(self.ln_f(self.blocks(x)))


data = make_corpus(20000)
model = TinyGPT(VOCAB, CTX)
opt = torch.optim.AdamW(model.parameters(), lr=3e-3)


def get_batch():
    ix = torch.randint(len(data) - CTX - 1, (BATCH,))
    x = torch.stack([data[i:i + CTX] for i in ix])
    y = torch.stack([data[i + 1:i + CTX + 1] for i in ix])
    return x, y


print(f"chance loss {math.log(VOCAB):.3f}")
for step in range(250):
    xb, yb = get_batch()
    logits = model(xb)
    loss = F.cross_entropy(logits.view(-1, VOCAB), yb.view(-1))
    opt.zero_grad()
    loss.backward()
    opt.step()
    if step % 25 == 0 or step == 249:
        print(f"step {step:4d}  loss {loss.item():.4f}")
