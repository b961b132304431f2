# source: https://github.com/bentrevett/pytorch-seq2seq/issues/94
# expect: labels-decoupled
# category: sequence
# bug: the sequence-first tagger's (T, B, C) output is flattened time-major while the tags were collated batch-first (B, T) and flattened sample-major, so every prediction is scored against another position's (mostly another sample's) tag
"""A sequence-first LSTM tagger.  Tag of a token = (token + previous token) mod 4.

The collate function puts tokens in the (seq, batch) layout the LSTM wants, and keeps the tags
(batch, seq) "for the metrics".  Shapes flatten to the same length, so nothing complains.
"""
import torch
import torch.nn as nn
from torch.utils.data import DataLoader, Dataset

torch.manual_seed(0)

VOCAB, TAGS, SEQ = 12, 4, 16


class TagData(Dataset):
    def __init__(self, n):
        self.tokens = torch.randint(0, VOCAB, (n, SEQ))
        prev = torch.cat([torch.zeros(n, 1, dtype=torch.long), self.tokens[:, :-1]], dim=1)
        self.tags = (self.tokens + prev) % TAGS

    def __len__(self):
        return len(self.tokens)

    def __getitem__(self, i):
        return self.tokens[i], self.tags[i]


def collate(batch):
    toks, tags = zip(*batch)
    return torch.stack(toks, dim=1), torch.stack(tags, dim=0)     # (SEQ, B), (B, SEQ)


class Tagger(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(VOCAB, 32)
        self.lstm = nn.LSTM(32, 64)
        self.fc = nn.Linear(64, TAGS)

    def forward(self, tokens):            # (SEQ, B)
        out, _ = self.lstm(self.emb(tokens))
        return self.fc(out)               # (SEQ, B, TAGS)


loader = DataLoader(TagData(4096), batch_size=32, shuffle=True, collate_fn=collate)
model = Tagger()
criterion = nn.CrossEntropyLoss()
optimizer = torch.optim.Adam(model.parameters(), lr=2e-3)

for epoch in range(3):
    for step, (tokens, tags) in enumerate(loader):
        scores = model(tokens)
        loss = criterion(scores.view(-1, TAGS), tags.view(-1))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if step % 20 == 0:
            acc = (scores.argmax(-1).t() == tags).float().mean().item()
            print(f"epoch {epoch} step {step:3d} loss {loss.item():.4f} tag acc {acc:.3f}")
