# source: https://github.com/lessw2020/Ranger-Deep-Learning-Optimizer/issues/18
# expect: healthy
# category: lm
# bug: healthy - a tiny causal transformer LM trained with AdamW(weight_decay=0.1): large but decoupled decay, applied to matrices only (no decay on biases, norms, embeddings)
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(27)

# character stream from a small grammar: repeating "words" with deterministic continuations
words = ["abcd", "bcda", "cdab", "dabc", "aabb", "ccdd"]
stream = "".join(words[i] for i in torch.randint(0, len(words), (4000,)).tolist())
chars = sorted(set(stream))
stoi = {c: i for i, c in enumerate(chars)}
data = torch.tensor([stoi[c] for c in stream])
V, CTX = len(chars), 32


class Block(nn.Module):
    def __init__(self, d, h):
        super().__init__()
        self.ln1, self.ln2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.attn = nn.MultiheadAttention(d, h, batch_first=True)
        self.mlp = nn.Sequential(nn.Linear(d, 4 * d), nn.GELU(), nn.Linear(4 * d, d))

    def forward(self, x, mask):
        a = self.ln1(x)
        x = x + self.attn(a, a, a, attn_mask=mask, need_weights=False)[0]
        return x + self.mlp(self.ln2(x))


class TinyLM(nn.Module):
    def __init__(self, d=64, h=4, n_layers=2):
        super().__init__()
        self.tok = nn.Embedding(V, d)
        self.pos = nn.Embedding(CTX, d)
        self.blocks = nn.ModuleList(Block(d, h) for _ in range(n_layers))
        self.ln = nn.LayerNorm(d)
        self.head = nn.Linear(d, V)

    def forward(self, idx):
        T = idx.shape[1]
        mask = torch.triu(torch.ones(T, T, dtype=torch.bool), 1)
        x = self.tok(idx) + self.pos(torch.arange(T))
        for b in self.blocks:
            x = b(x, mask)
        return self.head(self.ln(x))


model = TinyLM()
decay = [p for n, p in model.named_parameters() if p.dim() >= 2 and "tok" not in n and "pos" not in n]
no_decay = [p for n, p in model.named_parameters() if not (p.dim() >= 2 and "tok" not in n and "pos" not in n)]
opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1},
                         {"params": no_decay, "weight_decay": 0.0}], lr=3e-3, betas=(0.9, 0.95))

for step in range(250):
    starts = torch.randint(0, len(data) - CTX - 1, (32,))
    x = torch.stack([data[s:s + CTX] for s in starts])
    y = torch.stack([data[s + 1:s + CTX + 1] for s in starts])
    loss = F.cross_entropy(model(x).reshape(-1, V), y.reshape(-1))
    opt.zero_grad()
    loss.backward()
    opt.step()
    if step % 25 == 0:
        print(f"step {step:3d} loss {loss.item():.4f}")
