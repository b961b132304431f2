# source: https://github.com/lisa-lab/DeepLearningTutorials/pull/15
# expect: metric-miscomputed, loss-metric-mismatch
# category: classification
# bug: accuracy takes argmax over axis 0 (the batch) of the logits and of the one-hot labels instead of axis 1 (the classes), so the reported accuracy stays near zero while the model actually learns; the PR fixes the argmax axis
"""Small CNN on 1x8x8 images (which quadrant holds the bright spot); one-hot targets; validation accuracy printed each epoch."""
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset

torch.manual_seed(4)
C = 4


def quadrant_images(n, gen):
    y = torch.randint(0, C, (n,), generator=gen)
    x = 0.4 * torch.randn(n, 1, 8, 8, generator=gen)
    rows = torch.randint(0, 3, (n,), generator=gen) + (y // 2) * 4
    cols = torch.randint(0, 3, (n,), generator=gen) + (y % 2) * 4
    for i in range(n):
        x[i, 0, rows[i]:rows[i] + 2, cols[i]:cols[i] + 2] += 1.5
    return x, F.one_hot(y, C).float()


gen = torch.Generator().manual_seed(4)
x_tr, t_tr = quadrant_images(1200, gen)
x_va, t_va = quadrant_images(300, gen)
train_loader = DataLoader(TensorDataset(x_tr, t_tr), batch_size=48, shuffle=True)
val_loader = DataLoader(TensorDataset(x_va, t_va), batch_size=100)

net = nn.Sequential(
    nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
    nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
    nn.Flatten(), nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, C),
)
epochs = 6
opt = torch.optim.Adam(net.parameters(), lr=3e-3)
sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=1e-2, total_steps=epochs * len(train_loader))


def accuracy(logits, onehot):
    return (logits.argmax(dim=0) == onehot.argmax(dim=0)).float().mean().item()


for epoch in range(epochs):
    net.train()
    tot = 0.0
    for xb, tb in train_loader:
        opt.zero_grad()
        loss = F.cross_entropy(net(xb), tb)  # probability targets
        loss.backward()
        opt.step()
        sched.step()
        tot += loss.item()
    net.eval()
    with torch.no_grad():
        accs = [accuracy(net(xb), tb) for xb, tb in val_loader]
    print(f"epoch {epoch}  train loss {tot / len(train_loader):.4f}  val acc {sum(accs) / len(accs):.3f}")
