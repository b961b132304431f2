# source: https://github.com/jason718/game-feature-learning/issues/3
# expect: graph-break, optimizer-params-unused
# category: sequence
# bug: the LSTM's last hidden state is .detach()ed before the classifier head, so the embedding and LSTM never train and only the linear head learns
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset

torch.manual_seed(2)

VOCAB, T = 12, 20


def make_data(n):
    # label: does token 3 appear before token 7 (first occurrences) in the sequence
    seqs = torch.randint(0, VOCAB, (n, T))
    labels = torch.zeros(n, dtype=torch.long)
    for i in range(n):
        s = seqs[i].tolist()
        a = s.index(3) if 3 in s else T
        b = s.index(7) if 7 in s else T
        labels[i] = int(a < b)
    return seqs, labels


xs, ys = make_data(2000)
loader = DataLoader(TensorDataset(xs, ys), batch_size=64, shuffle=True)


class SeqClassifier(nn.Module):
    def __init__(self, vocab, emb=16, hidden=32):
        super().__init__()
        self.embed = nn.Embedding(vocab, emb)
        self.lstm = nn.LSTM(emb, hidden, batch_first=True)
        self.head = nn.Linear(hidden, 2)

    def forward(self, tokens):
        out, (h, c) = self.lstm(self.embed(tokens))
        last = h[-1].detach()
        return self.head(last)


def train(model, epochs=8):
    opt = torch.optim.Adam(model.parameters(), lr=5e-3)
    for epoch in range(epochs):
        total, correct, seen = 0.0, 0, 0
        for tokens, target in loader:
            logits = model(tokens)
            loss = F.cross_entropy(logits, target)
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item() * tokens.size(0)
            correct += (logits.argmax(1) == target).sum().item()
            seen += tokens.size(0)
        print(f"epoch {epoch}: loss {total / seen:.4f} acc {correct / seen:.3f}")


train(SeqClassifier(VOCAB))
