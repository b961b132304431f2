# source: https://github.com/Alibaba-MIIL/ASL/issues/56
# expect: lr-too-high, loss-divergence
# category: lm
# bug: token cross-entropy uses reduction='sum' over batch*time tokens while the SGD learning rate was picked for a per-token mean, so every step is ~1000x too long and training blows up
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(0)

VOCAB = 20
SEQ = 32
BATCH = 32

# a toy "language": noisy repetitions of a few fixed phrases
phrases = [torch.randint(1, VOCAB, (torch.randint(4, 9, (1,)).item(),)) for _ in range(6)]
corpus = []
while len(corpus) < 60000:
    p = phrases[torch.randint(0, len(phrases), (1,)).item()].tolist()
    if torch.rand(1).item() < 0.1:
        p[torch.randint(0, len(p), (1,)).item()] = torch.randint(1, VOCAB, (1,)).item()
    corpus.extend(p + [0])
corpus = torch.tensor(corpus)


def get_batch():
    starts = torch.randint(0, len(corpus) - SEQ - 1, (BATCH,))
    x = torch.stack([corpus[s:s + SEQ] for s in starts])
    y = torch.stack([corpus[s + 1:s + SEQ + 1] for s in starts])
    return x, y


class CharGRU(nn.Module):
    def __init__(self, d=64):
        super().__init__()
        self.emb = nn.Embedding(VOCAB, d)
        self.rnn = nn.GRU(d, d, batch_first=True)
        self.out = nn.Linear(d, VOCAB)

    def forward(self, x):
        h, _ = self.rnn(self.emb(x))
        return self.out(h)


model = CharGRU()
opt = torch.optim.SGD(model.parameters(), lr=0.5, momentum=0.9)

for step in range(300):
    x, y = get_batch()
    logits = model(x)
    loss = F.cross_entropy(logits.reshape(-1, VOCAB), y.reshape(-1), reduction="sum")
    opt.zero_grad()
    loss.backward()
    opt.step()
    if step % 30 == 0 or step == 299:
        per_token = loss.item() / y.numel()
        print(f"step {step:3d}  loss {loss.item():.2f}  per_token {per_token:.4f}")
