# source: https://github.com/saahiluppal/catr/issues/12
# expect: padding-in-loss, class-imbalance
# category: lm
# bug: the padded batches are scored with CrossEntropyLoss() without ignore_index=PAD, so most of the loss (and of its gradient) is predicting padding after padding: the printed loss looks low while the real characters are learned several times slower
"""Character-level name generator: a GRU language model over short made-up names.

Names are 3-9 characters; each is framed as <bos> name <eos> and padded to 64 positions, so about
seven positions in eight are padding.
"""
import random

import torch
import torch.nn as nn

torch.manual_seed(0)
random.seed(0)

SYLLABLES = ["ka", "ri", "mo", "te", "lu", "sa", "ne", "do", "vi", "ra", "ko", "mi"]
PAD, BOS, EOS = 0, 1, 2
MAXLEN = 64


def make_name():
    return "".join(random.choice(SYLLABLES) for _ in range(random.randint(2, 4)))[: random.randint(3, 9)]


names = [make_name() for _ in range(3000)]
letters = sorted(set("".join(names)))
stoi = {c: i + 3 for i, c in enumerate(letters)}
V = len(letters) + 3


def encode(name):
    ids = [BOS] + [stoi[c] for c in name] + [EOS]
    return ids + [PAD] * (MAXLEN - len(ids))


data = torch.tensor([encode(n) for n in names])


class NameLM(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(V, 32, padding_idx=PAD)
        self.rnn = nn.GRU(32, 64, batch_first=True)
        self.out = nn.Linear(64, V)

    def forward(self, x):
        h, _ = self.rnn(self.emb(x))
        return self.out(h)


model = NameLM()
criterion = nn.CrossEntropyLoss()
optimizer = torch.optim.SGD(model.parameters(), lr=1.0)

for epoch in range(3):
    perm = torch.randperm(len(data))
    for step, start in enumerate(range(0, len(data), 64)):
        batch = data[perm[start:start + 64]]
        inp, tgt = batch[:, :-1], batch[:, 1:]
        logits = model(inp)
        loss = criterion(logits.reshape(-1, V), tgt.reshape(-1))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if step % 15 == 0:
            with torch.no_grad():
                real = tgt != PAD
                real_loss = nn.functional.cross_entropy(logits[real], tgt[real]).item()
                pad_guess = (logits[real].argmax(-1) == PAD).float().mean().item()
            print(f"epoch {epoch} step {step:2d} loss {loss.item():.4f}  (real characters: loss {real_loss:.4f}, predicted as PAD {pad_guess:.0%})")
