# source: https://github.com/lmnt-com/haste/issues/8
# expect: graph-break, optimizer-params-unused
# category: classification
# bug: the stateful GRU classifier detaches its last hidden state for carrying to the next batch, but then feeds that detached tensor to the classifier head, so the GRU never receives a gradient
import torch
import torch.nn as nn

torch.manual_seed(12)

N, T, F_IN, N_CLS = 2048, 12, 4, 3


def make_data():
    x = torch.randn(N, T, F_IN)
    # class depends on which feature has the largest mean over the sequence's second half
    y = x[:, T // 2:, :N_CLS].mean(1).argmax(1)
    return x, y


class SeqClassifier(nn.Module):
    def __init__(self, hidden=32):
        super().__init__()
        self.gru = nn.GRU(F_IN, hidden, batch_first=True)
        self.head = nn.Sequential(nn.Linear(hidden, 32), nn.ReLU(), nn.Linear(32, N_CLS))

    def forward(self, x, h0=None):
        _, h_n = self.gru(x, h0)
        h_n = h_n.detach()
        return self.head(h_n[-1]), h_n


x, y = make_data()
model = SeqClassifier()
opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
crit = nn.CrossEntropyLoss()
bs = 64
step = 0
for epoch in range(8):
    perm = torch.randperm(N)
    h = None
    for i in range(0, N, bs):
        idx = perm[i:i + bs]
        logits, h = model(x[idx], h)
        loss = crit(logits, y[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
        step += 1
    acc = (model(x)[0].argmax(1) == y).float().mean().item()
    print(f"epoch {epoch} step {step} loss {loss.item():.4f} acc {acc:.3f}")
