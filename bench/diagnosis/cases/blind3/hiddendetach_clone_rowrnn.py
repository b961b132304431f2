# source: https://github.com/GBLin5566/toward-controlled-generation-of-text-pytorch/issues/9
# expect: state-not-detached
# category: vision
# bug: a row-by-row RNN image classifier carries its hidden state from batch to batch; the user "copies" it with .clone() (which keeps the graph) and uses retain_graph=True to get past the second-backward error
import torch
import torch.nn as nn
from torch.utils.data import TensorDataset, DataLoader

torch.manual_seed(4)

N, S = 1024, 8


def make_images(n):
    labels = torch.randint(4, (n,))
    imgs = 0.2 * torch.randn(n, 1, S, S)
    for i, c in enumerate(labels.tolist()):
        if c == 0:
            imgs[i, 0, :, S // 2] += 1.0          # vertical bar
        elif c == 1:
            imgs[i, 0, S // 2, :] += 1.0          # horizontal bar
        elif c == 2:
            imgs[i, 0].diagonal().add_(1.0)       # diagonal
        else:
            imgs[i, 0, :2, :2] += 1.0             # corner blob
    return imgs, labels


class ElmanCell(nn.Module):
    def __init__(self, n_in, n_hidden):
        super().__init__()
        self.ih = nn.Linear(n_in, n_hidden)
        self.hh = nn.Linear(n_hidden, n_hidden, bias=False)

    def forward(self, x, h):
        return torch.tanh(self.ih(x) + self.hh(h))


class RowRNN(nn.Module):
    def __init__(self, hidden=64, n_classes=4):
        super().__init__()
        self.cell = ElmanCell(S, hidden)
        self.head = nn.Linear(hidden, n_classes)

    def forward(self, imgs, h):
        rows = imgs.squeeze(1)                  # (B, S, S): rows are time steps
        for r in range(rows.shape[1]):
            h = self.cell(rows[:, r], h)
        return self.head(h), h


imgs, labels = make_images(N)
loader = DataLoader(TensorDataset(imgs, labels), batch_size=32, shuffle=True, drop_last=True)
model = RowRNN()
optimizer = torch.optim.AdamW(model.parameters(), lr=2e-3)
criterion = nn.CrossEntropyLoss()

hidden = torch.zeros(32, 64)
for epoch in range(6):
    correct = 0
    for x, y in loader:
        logits, hidden = model(x, hidden)
        hidden = hidden.clone()
        loss = criterion(logits, y)
        optimizer.zero_grad()
        loss.backward(retain_graph=True)
        optimizer.step()
        correct += (logits.argmax(1) == y).sum().item()
    print(f"epoch {epoch}: loss {loss.item():.4f} train acc {correct / (len(loader) * 32):.3f}")
