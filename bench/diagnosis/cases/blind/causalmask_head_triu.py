# source: https://github.com/pytorch/pytorch/issues/28272
# expect: causal-leak, label-leakage
# category: lm
# bug: a hand-written attention head masks with torch.triu instead of torch.tril (masked_fill(mask == 0, -inf)), so each character attends to itself and the characters after it
import torch
import torch.nn as nn
from torch.nn import functional as F

torch.manual_seed(2)

text = ("the quick brown fox jumps over the lazy dog while the cat sleeps on a warm mat " * 40)
chars = sorted(set(text))
stoi = {c: i for i, c in enumerate(chars)}
# small corruption so the stream is not perfectly predictable
ids = [stoi[c] for c in text]
g = torch.Generator().manual_seed(3)
for i in range(len(ids)):
    if torch.rand(1, generator=g).item() < 0.25:
        ids[i] = torch.randint(len(chars), (1,), generator=g).item()
data = torch.tensor(ids)
vocab_size = len(chars)
block_size = 16
n_embd = 32


class Head(nn.Module):
    def __init__(self, head_size):
        super().__init__()
        self.key = nn.Linear(n_embd, head_size, bias=False)
        self.query = nn.Linear(n_embd, head_size, bias=False)
        self.value = nn.Linear(n_embd, head_size, bias=False)
        self.register_buffer("tri", torch.triu(torch.ones(block_size, block_size)))

    def forward(self, x):
        B, T, C = x.shape
        k = self.key(x)
        q = self.query(x)
        wei = q @ k.transpose(-2, -1) * k.shape[-1] ** -0.5
        wei = wei.masked_fill(self.tri[:T, :T] == 0, float("-inf"))
        wei = F.softmax(wei, dim=-1)
        return wei @ self.value(x)


class MultiHead(nn.Module):
    def __init__(self, n_heads, head_size):
        super().__init__()
        self.heads = nn.ModuleList([Head(head_size) for _ in range(n_heads)])
        self.proj = nn.Linear(n_heads * head_size, n_embd)

    def forward(self, x):
        return self.proj(torch.cat([h(x) for h in self.heads], dim=-1))


class CharModel(nn.Module):
    def __init__(self):
        super().__init__()
        self.tok_emb = nn.Embedding(vocab_size, n_embd)
        self.pos_emb = nn.Embedding(block_size, n_embd)
        self.sa = MultiHead(4, n_embd // 4)
        self.ffwd = nn.Sequential(nn.Linear(n_embd, 4 * n_embd), nn.ReLU(), nn.Linear(4 * n_embd, n_embd))
        self.ln = nn.LayerNorm(n_embd)
        self.lm_head = nn.Linear(n_embd, vocab_size)

    def forward(self, idx, targets=None):
        B, T = idx.shape
        x = self.tok_emb(idx) + self.pos_emb(torch.arange(T))
        x = x + self.sa(x)
        x = x + self.ffwd(x)
        logits = self.lm_head(self.ln(x))
        loss = None
        if targets is not None:
            loss = F.cross_entropy(logits.view(B * T, -1), targets.view(B * T))
        return logits, loss


def get_batch(batch_size=32):
    ix = torch.randint(len(data) - block_size, (batch_size,))
    x = torch.stack([data[i:i + block_size] for i in ix])
    y = torch.stack([data[i + 1:i + block_size + 1] for i in ix])
    return x, y


model = CharModel()
optimizer = torch.optim.AdamW(model.parameters(), lr=5e-3)
for it in range(300):
    xb, yb = get_batch()
    _, loss = model(xb, yb)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    if it % 30 == 0 or it == 299:
        print(f"iter {it}: train loss {loss.item():.4f}")
