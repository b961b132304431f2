# source: https://whosebug.com/question/6539086/How-to-compute-Cross-Entropy-Loss-for-sequences
# expect: healthy
# category: lm
# bug: none — a small transformer LM's (B,T,V) logits are permuted (not reshaped) to (B,V,T) for cross_entropy with (B,T) targets
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(6)
V, T, D = 16, 16, 48
# sequences follow a simple rule: next = (prev * 3 + 1) % V, with occasional noise
def make_batch(b):
    start = torch.randint(0, V, (b, 1))
    seq = [start]
    for _ in range(T):
        nxt = (seq[-1] * 3 + 1) % V
        noise = torch.rand(b, 1) < 0.05
        nxt = torch.where(noise, torch.randint(0, V, (b, 1)), nxt)
        seq.append(nxt)
    s = torch.cat(seq, dim=1)
    return s[:, :-1], s[:, 1:]


class TinyLM(nn.Module):
    def __init__(self):
        super().__init__()
        self.tok = nn.Embedding(V, D)
        self.pos = nn.Parameter(torch.zeros(T, D))
        layer = nn.TransformerEncoderLayer(D, 4, 96, dropout=0.0, batch_first=True)
        self.enc = nn.TransformerEncoder(layer, 2)
        self.out = nn.Linear(D, V)
        self.register_buffer("mask", torch.triu(torch.full((T, T), float("-inf")), 1))

    def forward(self, x):
        h = self.tok(x) + self.pos
        h = self.enc(h, mask=self.mask)
        return self.out(h)


lm = TinyLM()
opt = torch.optim.AdamW(lm.parameters(), lr=2e-3)
for step in range(200):
    x, y = make_batch(32)
    logits = lm(x)
    loss = F.cross_entropy(logits.permute(0, 2, 1), y)
    opt.zero_grad()
    loss.backward()
    opt.step()
    if step % 20 == 0:
        print(f"step {step} loss {loss.item():.4f}")
