# source: https://github.com/pytorch/tutorials/issues/719
# expect: causal-leak, label-leakage
# category: lm
# bug: the (query, key) causal mask given to nn.MultiheadAttention is transposed (-inf below the diagonal instead of above), so every query attends to the keys after it
import math
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(4)

V, T, B, E = 20, 20, 24, 40


class DecoderLayer(nn.Module):
    def __init__(self, d, heads):
        super().__init__()
        self.attn = nn.MultiheadAttention(d, heads, batch_first=True)
        self.norm1 = nn.LayerNorm(d)
        self.ff = nn.Sequential(nn.Linear(d, 2 * d), nn.ReLU(), nn.Linear(2 * d, d))
        self.norm2 = nn.LayerNorm(d)

    def forward(self, x, attn_mask):
        a, _ = self.attn(x, x, x, attn_mask=attn_mask, need_weights=False)
        x = self.norm1(x + a)
        return self.norm2(x + self.ff(x))


class LM(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(V, E)
        self.pos = nn.Parameter(torch.randn(T, E) * 0.02)
        self.layers = nn.ModuleList([DecoderLayer(E, 4) for _ in range(2)])
        self.fc = nn.Linear(E, V)

    def forward(self, tokens):
        n = tokens.size(1)
        future = torch.triu(torch.full((n, n), float("-inf")), diagonal=1)
        mask = future.transpose(0, 1)
        h = self.emb(tokens) + self.pos[:n]
        for layer in self.layers:
            h = layer(h, mask)
        return self.fc(h)


# a noisy "count up by 2" token stream
def sample_sequences(n):
    start = torch.randint(V, (n, 1))
    seq = (start + 2 * torch.arange(T + 1)) % V
    noise = torch.rand(n, T + 1) < 0.35
    seq = torch.where(noise, torch.randint(V, (n, T + 1)), seq)
    return seq


train = sample_sequences(4000)
model = LM()
opt = torch.optim.Adam(model.parameters(), lr=2e-3)


def train_epoch(epoch):
    perm = torch.randperm(len(train))
    total = 0.0
    for i in range(0, 1200, B):
        batch = train[perm[i:i + B]]
        inp, tgt = batch[:, :-1], batch[:, 1:]
        logits = model(inp)
        loss = F.cross_entropy(logits.reshape(-1, V), tgt.reshape(-1))
        opt.zero_grad()
        loss.backward()
        opt.step()
        total += loss.item()
    return total / (1200 // B)


print(f"uniform loss {math.log(V):.3f}")
for epoch in range(5):
    print(f"epoch {epoch}  mean loss {train_epoch(epoch):.4f}")
