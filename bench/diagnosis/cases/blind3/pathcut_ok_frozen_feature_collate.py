# source: https://github.com/PriorLabs/TabPFN/issues/69
# expect: healthy
# category: sequence
# bug: a fixed random-projection featurizer runs in collate_fn under torch.no_grad(); it is frozen on purpose and left out of the optimizer, only the GRU classifier trains
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset

torch.manual_seed(5)
SEQ, FEAT = 30, 3


class EventSequences(Dataset):
    def __init__(self, n):
        self.x = 0.3 * torch.randn(n, SEQ, FEAT)
        self.y = torch.randint(0, 2, (n,))
        t0 = torch.randint(0, SEQ, (n,))
        t1 = torch.randint(0, SEQ, (n,))
        first, second = torch.minimum(t0, t1), (torch.maximum(t0, t1) + 1).clamp(max=SEQ - 1)
        a = torch.where(self.y == 1, first, second)
        b = torch.where(self.y == 1, second, first)
        self.x[torch.arange(n), a, 0] += 3.0
        self.x[torch.arange(n), b, 1] += 3.0

    def __len__(self):
        return len(self.y)

    def __getitem__(self, i):
        return self.x[i], self.y[i]


featurizer = nn.Linear(FEAT, 16)
featurizer.requires_grad_(False)


class Classifier(nn.Module):
    def __init__(self):
        super().__init__()
        self.rnn = nn.GRU(16, 32, batch_first=True)
        self.out = nn.Linear(32, 2)

    def forward(self, f):
        _, h = self.rnn(f)
        return self.out(h[-1])


def collate(batch):
    xs = torch.stack([b[0] for b in batch])
    ys = torch.tensor([int(b[1]) for b in batch])
    with torch.no_grad():
        feats = torch.tanh(featurizer(xs))
    return feats, ys


loader = DataLoader(EventSequences(3000), batch_size=64, shuffle=True, collate_fn=collate)
clf = Classifier()
optimizer = torch.optim.Adam(clf.parameters(), lr=3e-3)

for epoch in range(6):
    total, correct, seen = 0.0, 0, 0
    for feats, ys in loader:
        logits = clf(feats)
        loss = F.cross_entropy(logits, ys)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        total += loss.item() * len(ys)
        correct += (logits.argmax(1) == ys).sum().item()
        seen += len(ys)
    print(f"epoch {epoch}: loss {total / seen:.4f} acc {correct / seen:.3f}")
