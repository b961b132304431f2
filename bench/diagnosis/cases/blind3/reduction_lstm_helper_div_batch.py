# source: https://github.com/felipecode/coiltraine/issues/37
# expect: lr-too-low, loss-plateau, slow-convergence
# category: classification
# bug: the helper divides CrossEntropyLoss (already a batch mean) by the batch size again, so every SGD step is 128x too short
import torch
import torch.nn as nn

torch.manual_seed(4)

# sentences of 20 tokens; label = which of 4 "keyword" tokens appears most
vocab, seq_len, n = 50, 20, 4096
X = torch.randint(4, vocab, (n, seq_len))
y = torch.randint(0, 4, (n,))
for i in range(n):
    pos = torch.randperm(seq_len)[:5]
    X[i, pos] = y[i]


class Classifier(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(vocab, 32)
        self.lstm = nn.LSTM(32, 64, batch_first=True)
        self.fc = nn.Linear(64, 4)

    def forward(self, x):
        out, (h, c) = self.lstm(self.emb(x))
        return self.fc(h[-1])


def batch_loss(criterion, logits, labels):
    batch_size = labels.shape[0]
    return criterion(logits, labels) / batch_size


model = Classifier()
criterion = nn.CrossEntropyLoss()
optimizer = torch.optim.SGD(model.parameters(), lr=0.5)
batch_size = 128

step = 0
for epoch in range(8):
    perm = torch.randperm(n)
    correct = 0
    for i in range(0, n, batch_size):
        idx = perm[i:i + batch_size]
        logits = model(X[idx])
        loss = batch_loss(criterion, logits, y[idx])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        correct += (logits.argmax(1) == y[idx]).sum().item()
        step += 1
        if step % 32 == 1:
            print(f"step {step} loss {loss.item():.5f} (per-sample ce {loss.item() * len(idx):.4f})")
    print(f"epoch {epoch} train acc {correct / n:.3f}")
