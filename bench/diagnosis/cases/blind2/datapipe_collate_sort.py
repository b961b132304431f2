# source: https://github.com/fartashf/vsepp/pull/36
# expect: labels-decoupled
# category: sequence
# bug: collate_fn sorts the padded sequences by length (for pack_padded_sequence) but returns the labels in the original batch order
import torch
import torch.nn as nn
from torch.nn.utils.rnn import pad_sequence, pack_padded_sequence
from torch.utils.data import DataLoader

torch.manual_seed(9)

VOCAB = 30
# task: does the sequence contain more "positive" tokens (1..14) than "negative" ones (15..29)?
samples = []
for _ in range(2000):
    L = torch.randint(5, 30, (1,)).item()
    pos_bias = torch.rand(1).item()
    toks = torch.where(torch.rand(L) < pos_bias,
                       torch.randint(1, 15, (L,)), torch.randint(15, VOCAB, (L,)))
    label = int((toks < 15).sum() > (toks >= 15).sum())
    samples.append((toks, label))


def collate(batch):
    seqs = [s for s, _ in batch]
    labels = torch.tensor([y for _, y in batch])
    lengths = torch.tensor([len(s) for s in seqs])
    lengths, order = lengths.sort(descending=True)
    seqs = [seqs[i] for i in order]
    padded = pad_sequence(seqs, batch_first=True, padding_value=0)
    return padded, lengths, labels


class Classifier(nn.Module):
    def __init__(self, emb=32, hid=64):
        super().__init__()
        self.emb = nn.Embedding(VOCAB, emb, padding_idx=0)
        self.rnn = nn.GRU(emb, hid, batch_first=True)
        self.fc = nn.Linear(hid, 2)

    def forward(self, x, lengths):
        packed = pack_padded_sequence(self.emb(x), lengths, batch_first=True)
        _, h = self.rnn(packed)
        return self.fc(h[-1])


loader = DataLoader(samples, batch_size=48, shuffle=True, collate_fn=collate)
model = Classifier()
optim = torch.optim.Adam(model.parameters(), lr=3e-3)
ce = nn.CrossEntropyLoss()

step = 0
for epoch in range(6):
    for x, lengths, y in loader:
        logits = model(x, lengths)
        loss = ce(logits, y)
        optim.zero_grad()
        loss.backward()
        optim.step()
        if step % 30 == 0:
            acc = (logits.argmax(1) == y).float().mean().item()
            print(f"ep {epoch} step {step} loss {loss.item():.4f} acc {acc:.2f}")
        step += 1
