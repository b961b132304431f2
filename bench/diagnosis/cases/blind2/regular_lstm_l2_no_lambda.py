# source: https://github.com/deeplearning4j/deeplearning4j/issues/8737
# expect: over-regularization
# category: sequence
# bug: hand-written L2 term 0.5*||w||^2 added to the cross-entropy without its lambda (weight_decay=5e-4 was defined but never used), so the penalty dominates and the LSTM is pinned near zero weights
import torch
import torch.nn as nn

torch.manual_seed(24)

VOCAB, T, N = 40, 20, 2000
seqs = torch.randint(0, VOCAB, (N, T))
# class = whether the tokens of the first half sum to more than those of the second half (3 bins)
diff = seqs[:, :T // 2].sum(1) - seqs[:, T // 2:].sum(1)
labels = torch.bucketize(diff, torch.tensor([-25, 25]))


class SeqClassifier(nn.Module):
    def __init__(self, emb=24, hidden=48):
        super().__init__()
        self.embed = nn.Embedding(VOCAB, emb)
        self.lstm = nn.LSTM(emb, hidden, batch_first=True)
        self.fc = nn.Linear(hidden, 3)

    def forward(self, x):
        out, _ = self.lstm(self.embed(x))
        return self.fc(out[:, -1])


model = SeqClassifier()
optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
criterion = nn.CrossEntropyLoss()
weight_decay = 5e-4


def l2_penalty(m):
    return 0.5 * sum((p ** 2).sum() for name, p in m.named_parameters() if "bias" not in name)


for step in range(300):
    idx = torch.randint(0, 1700, (64,))
    logits = model(seqs[idx])
    ce = criterion(logits, labels[idx])
    loss = ce + l2_penalty(model)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    if step % 30 == 0:
        with torch.no_grad():
            acc = (model(seqs[1700:]).argmax(1) == labels[1700:]).float().mean().item()
        print(f"step {step:3d} loss {loss.item():.3f} ce {ce.item():.3f} val acc {acc:.3f}")
