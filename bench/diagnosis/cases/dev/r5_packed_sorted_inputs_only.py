# source: https://github.com/pytorch/pytorch/issues/4927
# expect: labels-decoupled, input-ignored
# category: sequence
# bug: the collate function sorts the padded sequences by length for pack_padded_sequence but returns the labels in the original order, so each label is scored against another sequence's output
"""Variable-length sequence classifier with a packed GRU."""
import random

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.utils.rnn import pack_padded_sequence, pad_sequence
from torch.utils.data import DataLoader

random.seed(0)
torch.manual_seed(0)

V, PAD = 12, 0


def sample():
    n = random.randint(4, 24)
    seq = torch.randint(1, V, (n,))
    label = int((seq == 3).sum() > (seq == 5).sum())
    return seq, label


data = [sample() for _ in range(640)]


def collate(batch):
    seqs = [s for s, _ in batch]
    labels = torch.tensor([l for _, l in batch])
    lengths = torch.tensor([len(s) for s in seqs])
    lengths, order = lengths.sort(descending=True)
    padded = pad_sequence(seqs, batch_first=True, padding_value=PAD)[order]
    return padded, lengths, labels          # BUG: labels not reordered with `order`


class Classifier(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(V, 32, padding_idx=PAD)
        self.gru = nn.GRU(32, 64, batch_first=True)
        self.head = nn.Linear(64, 2)

    def forward(self, x, lengths):
        packed = pack_padded_sequence(self.emb(x), lengths, batch_first=True)
        _, h = self.gru(packed)
        return self.head(h[-1])


model = Classifier()
opt = torch.optim.Adam(model.parameters(), lr=3e-3)
loader = DataLoader(data, batch_size=32, shuffle=True, collate_fn=collate)

for epoch in range(5):
    tot, correct, n = 0.0, 0, 0
    for x, lengths, y in loader:
        logits = model(x, lengths)
        loss = F.cross_entropy(logits, y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        tot += loss.item() * len(y)
        correct += (logits.argmax(1) == y).sum().item()
        n += len(y)
    print(f"epoch {epoch}  loss {tot / n:.4f}  acc {correct / n:.3f}")
