# source: https://github.com/pytorch/pytorch/pull/120668
# expect: healthy
# category: lm
# bug: none - nn.TransformerEncoder (batch_first=True) LM with a boolean triu(diagonal=1) mask, where True means "not allowed to attend": a correct causal mask
import math
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(5)

VOCAB, CTX, BATCH, D = 16, 24, 32, 48


def make_corpus(n):
    toks = [0]
    for _ in range(n - 1):
        if torch.rand(1).item() < 0.7:
            toks.append((toks[-1] * 3 + 1) % VOCAB)
        else:
            toks.append(torch.randint(VOCAB, (1,)).item())
    return torch.tensor(toks)


class EncoderLM(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(VOCAB, D)
        self.pos = nn.Embedding(CTX, D)
        layer = nn.TransformerEncoderLayer(D, 4, 2 * D, dropout=0.0, batch_first=True, norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, 2, enable_nested_tensor=False)
        self.lm_head = nn.Linear(D, VOCAB)

    def forward(self, x):
        T = x.size(1)
        blocked = torch.triu(torch.ones(T, T, dtype=torch.bool), diagonal=1)
        h = self.embed(x) + self.pos(torch.arange(T))
        return self.lm_head(self.encoder(h, mask=blocked))


corpus = make_corpus(20000)
model = EncoderLM()
opt = torch.optim.AdamW(model.parameters(), lr=3e-3)

print(f"chance loss {math.log(VOCAB):.3f}")
for step in range(250):
    ix = torch.randint(len(corpus) - CTX - 1, (BATCH,))
    x = torch.stack([corpus[i:i + CTX] for i in ix])
    y = torch.stack([corpus[i + 1:i + CTX + 1] for i in ix])
    loss = F.cross_entropy(model(x).flatten(0, 1), y.flatten())
    opt.zero_grad()
    loss.backward()
    opt.step()
    if step % 25 == 0 or step == 249:
        print(f"step {step:4d}  loss {loss.item():.4f}")
