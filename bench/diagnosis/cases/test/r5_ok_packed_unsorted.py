# source: https://github.com/sgrvinod/a-PyTorch-Tutorial-to-Sequence-Labeling/issues/2
# expect: healthy
# category: sequence
# bug: none - packed sequences done right: pack_padded_sequence(enforce_sorted=False) sorts and unsorts internally, so the final hidden states come back in the batch's original order and line up with the labels
"""Variable-length sequence classifier with a packed LSTM, sequence-first tensors."""
import random

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.utils.rnn import pack_padded_sequence, pad_sequence
from torch.utils.data import DataLoader

random.seed(1)
torch.manual_seed(1)

V, PAD = 12, 0


def sample():
    n = random.randint(4, 24)
    seq = torch.randint(1, V, (n,))
    return seq, int((seq == 3).sum() > (seq == 5).sum())


data = [sample() for _ in range(640)]


def collate(batch):
    seqs = [s for s, _ in batch]
    lengths = torch.tensor([len(s) for s in seqs])
    padded = pad_sequence(seqs, padding_value=PAD)          # (time, batch)
    return padded, lengths, torch.tensor([l for _, l in batch])


class Classifier(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(V, 32, padding_idx=PAD)
        self.lstm = nn.LSTM(32, 64)
        self.head = nn.Linear(64, 2)

    def forward(self, x, lengths):
        packed = pack_padded_sequence(self.emb(x), lengths, enforce_sorted=False)
        _, (h, _) = self.lstm(packed)
        return self.head(h[-1])                              # original batch order


model = Classifier()
opt = torch.optim.Adam(model.parameters(), lr=3e-3)
loader = DataLoader(data, batch_size=32, shuffle=True, collate_fn=collate)

for epoch in range(8):
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
