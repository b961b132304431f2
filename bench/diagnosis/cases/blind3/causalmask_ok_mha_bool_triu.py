# source: https://github.com/pytorch/examples/issues/649
# expect: healthy
# category: lm
# bug: none - nn.MultiheadAttention gets a bool triu(diagonal=1) mask where True means "do not attend", which is the correct causal mask in that convention
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(0)
vocab, seq_len, batch = 16, 24, 32
rule = torch.randperm(vocab)


def make_batch():
    x = torch.zeros(batch, seq_len + 1, dtype=torch.long)
    x[:, 0] = torch.randint(0, vocab, (batch,))
    for t in range(1, seq_len + 1):
        follow = torch.rand(batch) < 0.5
        x[:, t] = torch.where(follow, rule[x[:, t - 1]], torch.randint(0, vocab, (batch,)))
    return x[:, :-1], x[:, 1:]


class Decoder(nn.Module):
    def __init__(self, d=48):
        super().__init__()
        self.tok = nn.Embedding(vocab, d)
        self.pos = nn.Parameter(torch.randn(seq_len, d) * 0.02)
        self.attn = nn.MultiheadAttention(d, 4, batch_first=True)
        self.ln1, self.ln2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.ff = nn.Sequential(nn.Linear(d, 96), nn.ReLU(), nn.Linear(96, d))
        self.out = nn.Linear(d, vocab)

    def forward(self, idx):
        T = idx.size(1)
        h = self.tok(idx) + self.pos[:T]
        blocked = torch.triu(torch.ones(T, T, dtype=torch.bool), diagonal=1)
        a = self.ln1(h)
        h = h + self.attn(a, a, a, attn_mask=blocked, need_weights=False)[0]
        h = h + self.ff(self.ln2(h))
        return self.out(h)


model = Decoder()
opt = torch.optim.Adam(model.parameters(), lr=3e-3)
for step in range(300):
    x, y = make_batch()
    loss = F.cross_entropy(model(x).reshape(-1, vocab), y.reshape(-1))
    opt.zero_grad()
    loss.backward()
    opt.step()
    if step % 50 == 0 or step == 299:
        print("step", step, "loss", round(loss.item(), 4))
