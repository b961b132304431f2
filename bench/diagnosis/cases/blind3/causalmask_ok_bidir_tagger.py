# source: https://medium.com/@plusepsilon/the-bidirectional-language-model-1f3961d1fb27
# expect: healthy
# category: sequence
# bug: none - a bidirectional LSTM with no mask tags each position from both sides; the label at t depends on the neighbours at t-1 and t+1, so seeing the right context is the task, not a leak
import torch
import torch.nn as nn

torch.manual_seed(5)
V, T, N = 10, 30, 600
X = torch.randint(0, V, (N, T))
left = torch.cat([torch.zeros(N, 1, dtype=torch.long), X[:, :-1]], 1)
right = torch.cat([X[:, 1:], torch.zeros(N, 1, dtype=torch.long)], 1)
Y = (right > left).long() + (right == left).long() * 2   # tag compares the two neighbours

train_X, train_Y = X[:500], Y[:500]
val_X, val_Y = X[500:], Y[500:]


class Tagger(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(V, 24)
        self.lstm = nn.LSTM(24, 48, batch_first=True, bidirectional=True)
        self.cls = nn.Linear(96, 3)

    def forward(self, x):
        out, _ = self.lstm(self.emb(x))
        return self.cls(out)


tagger = Tagger()
opt = torch.optim.Adam(tagger.parameters(), lr=5e-3)
crit = nn.CrossEntropyLoss()
step = 0
for epoch in range(8):
    for i in range(0, 500, 20):
        xb, yb = train_X[i:i + 20], train_Y[i:i + 20]
        logits = tagger(xb)
        loss = crit(logits.reshape(-1, 3), yb.reshape(-1))
        opt.zero_grad()
        loss.backward()
        opt.step()
        step += 1
    with torch.no_grad():
        acc = (tagger(val_X).argmax(-1) == val_Y).float().mean().item()
    print(f"epoch {epoch} step {step} loss {loss.item():.4f} val_acc {acc:.3f}")
