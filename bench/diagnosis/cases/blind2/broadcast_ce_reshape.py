# source: https://whosebug.com/question/6539086/How-to-compute-Cross-Entropy-Loss-for-sequences
# expect: layout-scrambled
# category: sequence
# bug: the GRU tagger's (N,T,C) logits are reshaped to (N,C,T) for CrossEntropyLoss instead of permuted, so classes and time steps are scrambled
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(2)
vocab, n_tags, T = 30, 5, 12
N_total = 2048
tokens = torch.randint(0, vocab, (N_total, T))
tags = tokens % n_tags                                      # tag is a function of the token
tags[:, 1:] = (tags[:, 1:] + (tokens[:, :-1] < 3).long()) % n_tags   # a little context


class Tagger(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(vocab, 32)
        self.gru = nn.GRU(32, 64, batch_first=True)
        self.out = nn.Linear(64, n_tags)

    def forward(self, x):
        h, _ = self.gru(self.emb(x))
        return self.out(h)                                  # (N, T, C)


model = Tagger()
optim = torch.optim.Adam(model.parameters(), lr=3e-3)
bs = 64
for step in range(300):
    idx = torch.randint(0, N_total, (bs,))
    x, y = tokens[idx], tags[idx]
    logits = model(x)
    logits = logits.reshape(bs, n_tags, T)
    loss = F.cross_entropy(logits, y)
    optim.zero_grad()
    loss.backward()
    optim.step()
    if step % 30 == 0:
        with torch.no_grad():
            acc = (model(x).argmax(-1) == y).float().mean().item()
        print(f"step {step} loss {loss.item():.4f} tag acc {acc:.3f}")
