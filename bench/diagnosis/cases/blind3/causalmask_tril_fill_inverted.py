# source: https://github.com/pytorch/examples/issues/649
# expect: causal-leak, label-leakage
# category: lm
# bug: hand-written attention fills the lower triangle (past and present) with -1e9 instead of the upper one, so every token attends to the tokens after it
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(0)

vocab = 16
seq_len = 24
batch = 32

# a noisy markov chain: half the time the next char follows a fixed rule
rule = torch.randperm(vocab)
def make_batch():
    x = torch.zeros(batch, seq_len + 1, dtype=torch.long)
    x[:, 0] = torch.randint(0, vocab, (batch,))
    for t in range(1, seq_len + 1):
        follow = torch.rand(batch) < 0.5
        rnd = torch.randint(0, vocab, (batch,))
        x[:, t] = torch.where(follow, rule[x[:, t - 1]], rnd)
    return x[:, :-1], x[:, 1:]


class SelfAttention(nn.Module):
    def __init__(self, d):
        super().__init__()
        self.q = nn.Linear(d, d)
        self.k = nn.Linear(d, d)
        self.v = nn.Linear(d, d)
        self.d = d

    def forward(self, x):
        T = x.shape[1]
        q, k, v = self.q(x), self.k(x), self.v(x)
        scores = q @ k.transpose(1, 2) / self.d ** 0.5
        mask = torch.tril(torch.ones(T, T))
        scores = scores.masked_fill(mask == 1, -1e9)
        w = F.softmax(scores, dim=-1)
        return w @ v


class TinyGPT(nn.Module):
    def __init__(self):
        super().__init__()
        d = 48
        self.tok = nn.Embedding(vocab, d)
        self.pos = nn.Embedding(seq_len, d)
        self.attn = SelfAttention(d)
        self.ff = nn.Sequential(nn.Linear(d, 96), nn.ReLU(), nn.Linear(96, d))
        self.ln1 = nn.LayerNorm(d)
        self.ln2 = nn.LayerNorm(d)
        self.out = nn.Linear(d, vocab)

    def forward(self, idx):
        h = self.tok(idx) + self.pos(torch.arange(idx.shape[1]))
        h = h + self.attn(self.ln1(h))
        h = h + self.ff(self.ln2(h))
        return self.out(h)


model = TinyGPT()
opt = torch.optim.Adam(model.parameters(), lr=3e-3)

for step in range(300):
    x, y = make_batch()
    logits = model(x)
    loss = F.cross_entropy(logits.reshape(-1, vocab), y.reshape(-1))
    opt.zero_grad()
    loss.backward()
    opt.step()
    if step % 50 == 0 or step == 299:
        print("step", step, "loss", round(loss.item(), 4))
