# source: https://toymoban.com/news/detail-443054.html
# expect: labels-decoupled
# category: sequence
# bug: token sequences and their labels are kept in two datasets with two DataLoaders, both shuffle=True, and zipped in the loop, so each batch pairs inputs with another batch's labels
import torch
import torch.nn as nn
from torch.utils.data import DataLoader, TensorDataset

torch.manual_seed(17)

VOCAB, SEQ, N = 50, 16, 2560
tokens = torch.randint(1, VOCAB, (N, SEQ))
# label: which of 4 "keyword" tokens (1..4) appears most often in the sequence
for i in range(N):
    k = torch.randint(1, 5, (1,)).item()
    pos = torch.randperm(SEQ)[:4]
    tokens[i, pos] = k
counts = torch.stack([(tokens == k).sum(1) for k in range(1, 5)], 1)
labels = counts.argmax(1)

token_loader = DataLoader(TensorDataset(tokens), batch_size=64, shuffle=True)
label_loader = DataLoader(TensorDataset(labels), batch_size=64, shuffle=True)


class TinyTransformer(nn.Module):
    def __init__(self, d=48, heads=4, layers=2, n_cls=4):
        super().__init__()
        self.tok = nn.Embedding(VOCAB, d)
        self.pos = nn.Parameter(torch.randn(1, SEQ, d) * 0.02)
        layer = nn.TransformerEncoderLayer(d, heads, dim_feedforward=96, dropout=0.0, batch_first=True)
        self.enc = nn.TransformerEncoder(layer, layers)
        self.cls = nn.Linear(d, n_cls)

    def forward(self, x):
        h = self.enc(self.tok(x) + self.pos)
        return self.cls(h.mean(1))


model = TinyTransformer()
opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
loss_fn = nn.CrossEntropyLoss()

step = 0
for epoch in range(6):
    for (xb,), (yb,) in zip(token_loader, label_loader):
        logits = model(xb)
        loss = loss_fn(logits, yb)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % 25 == 0:
            acc = (logits.argmax(-1) == yb).float().mean().item()
            print(f"epoch {epoch} step {step} loss {loss.item():.4f} acc {acc:.3f}")
        step += 1
