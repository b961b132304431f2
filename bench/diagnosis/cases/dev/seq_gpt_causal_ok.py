# source: https://github.com/facebookresearch/xformers/issues/1135
# expect: healthy
# category: lm
# bug: none: a hand-written GPT whose tril mask is applied with masked_fill before the softmax, next-token targets shifted by one, dict batches, AdamW with warmup and cosine decay
"""A minimal causal character LM, done right.  Same shape of code as the usual nanoGPT clone."""
import math
import random

import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(2)
random.seed(2)

WORDS = ["apple", "banana", "cherry", "grape", "lemon", "mango", "peach", "plum", "kiwi", "melon"]
text = " ".join(random.choice(WORDS) for _ in range(6000)) + " "
vocab = sorted(set(text))
stoi = {c: i for i, c in enumerate(vocab)}
ids = torch.tensor([stoi[c] for c in text])
V, BLOCK, EMB, HEADS, LAYERS = len(vocab), 32, 64, 4, 2
STEPS, WARMUP = 200, 20


class CausalSelfAttention(nn.Module):
    def __init__(self):
        super().__init__()
        self.c_attn = nn.Linear(EMB, 3 * EMB)
        self.c_proj = nn.Linear(EMB, EMB)
        self.register_buffer("bias", torch.tril(torch.ones(BLOCK, BLOCK)).view(1, 1, BLOCK, BLOCK))

    def forward(self, x):
        B, T, C = x.size()
        q, k, v = self.c_attn(x).split(EMB, dim=2)
        q, k, v = (z.view(B, T, HEADS, C // HEADS).transpose(1, 2) for z in (q, k, v))
        att = (q @ k.transpose(-2, -1)) / math.sqrt(k.size(-1))
        att = att.masked_fill(self.bias[:, :, :T, :T] == 0, float("-inf"))
        att = F.softmax(att, dim=-1)
        y = (att @ v).transpose(1, 2).contiguous().view(B, T, C)
        return self.c_proj(y)


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.ln_1, self.ln_2 = nn.LayerNorm(EMB), nn.LayerNorm(EMB)
        self.attn = CausalSelfAttention()
        self.mlp = nn.Sequential(nn.Linear(EMB, 4 * EMB), nn.GELU(), nn.Linear(4 * EMB, EMB))

    def forward(self, x):
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


class GPT(nn.Module):
    def __init__(self):
        super().__init__()
        self.wte = nn.Embedding(V, EMB)
        self.wpe = nn.Embedding(BLOCK, EMB)
        self.blocks = nn.ModuleList(Block() for _ in range(LAYERS))
        self.ln_f = nn.LayerNorm(EMB)
        self.lm_head = nn.Linear(EMB, V, bias=False)
        self.wte.weight = self.lm_head.weight          # weight tying
        self.apply(self._init)

    @staticmethod
    def _init(m):
        if isinstance(m, (nn.Linear, nn.Embedding)):
            nn.init.normal_(m.weight, 0.0, 0.02)
        if isinstance(m, nn.Linear) and m.bias is not None:
            nn.init.zeros_(m.bias)

    def forward(self, batch):
        idx = batch["input_ids"]
        x = self.wte(idx) + self.wpe(torch.arange(idx.size(1)))
        for block in self.blocks:
            x = block(x)
        logits = self.lm_head(self.ln_f(x))
        return F.cross_entropy(logits.reshape(-1, V), batch["labels"].reshape(-1)), logits


def get_batch(bs=32):
    ix = torch.randint(len(ids) - BLOCK - 1, (bs,))
    chunk = torch.stack([ids[i:i + BLOCK + 1] for i in ix])
    return {"input_ids": chunk[:, :-1], "labels": chunk[:, 1:]}


def lr_at(step, base=3e-3):
    if step < WARMUP:
        return base * (step + 1) / WARMUP
    return 0.5 * base * (1 + math.cos(math.pi * (step - WARMUP) / (STEPS - WARMUP)))


model = GPT()
optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3, betas=(0.9, 0.95), weight_decay=0.1)
print(f"vocab {V}, chance {math.log(V):.3f}")

for step in range(STEPS):
    for g in optimizer.param_groups:
        g["lr"] = lr_at(step)
    loss, _ = model(get_batch())
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    optimizer.step()
    if step % 20 == 0 or step == STEPS - 1:
        print(f"step {step:3d} lr {lr_at(step):.5f} loss {loss.item():.4f}")

model.eval()
with torch.no_grad():
    idx = ids[:8].unsqueeze(0)
    for _ in range(40):
        _, logits = model({"input_ids": idx[:, -BLOCK:], "labels": idx[:, -BLOCK:]})
        idx = torch.cat([idx, logits[:, -1].argmax(-1, keepdim=True)], dim=1)
print("sample:", "".join(vocab[i] for i in idx[0].tolist()))
