# source: https://github.com/sinhasam/vaal/issues/2
# expect: eval-in-train-mode
# category: classification
# bug: the evaluation function runs the batch-norm + dropout CNN under no_grad but never calls model.eval(): dropout stays on and batch norm normalises each (class-sorted) validation batch with its own statistics, so validation accuracy is far below what the model really achieves
"""Small CNN with BatchNorm2d and Dropout on 1x8x8 texture images; the validation set is stored class by class."""
import torch
import torch.nn as nn
from torch.utils.data import DataLoader, TensorDataset

torch.manual_seed(41)
C = 4


def textures(n_per_class, gen):
    xs, ys = [], []
    ii, jj = torch.meshgrid(torch.arange(8.0), torch.arange(8.0), indexing="ij")
    patterns = [
        torch.sin(ii * 1.6),             # horizontal stripes
        torch.sin(jj * 1.6),             # vertical stripes
        torch.sin((ii + jj) * 1.1),      # diagonal stripes
        ((ii + jj) % 2) * 2 - 1,         # checkerboard
    ]
    for c, pat in enumerate(patterns):
        amp = 0.5 + torch.rand(n_per_class, 1, 1, 1, generator=gen)
        noise = 0.8 * torch.randn(n_per_class, 1, 8, 8, generator=gen)
        xs.append(amp * pat + noise + 0.3 * c)
        ys.append(torch.full((n_per_class,), c))
    return torch.cat(xs), torch.cat(ys)


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.block = nn.Sequential(
            nn.Conv2d(1, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
            nn.Conv2d(8, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),
        )
        self.head = nn.Sequential(nn.Flatten(), nn.Dropout(0.5), nn.Linear(16 * 4 * 4, 64), nn.ReLU(),
                                  nn.Dropout(0.5), nn.Linear(64, C))

    def forward(self, x):
        return self.head(self.block(x))


def evaluate(model, loader):
    correct = total = 0
    with torch.no_grad():
        for xb, yb in loader:
            correct += (model(xb).argmax(1) == yb).sum().item()
            total += len(yb)
    return correct / total


gen = torch.Generator().manual_seed(41)
x_tr, y_tr = textures(250, gen)
x_va, y_va = textures(100, gen)          # kept in class order, as stored on disk
train_loader = DataLoader(TensorDataset(x_tr, y_tr), batch_size=32, shuffle=True)
val_loader = DataLoader(TensorDataset(x_va, y_va), batch_size=25, shuffle=False)

model = Net()
opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
sched = torch.optim.lr_scheduler.MultiStepLR(opt, milestones=[5, 7], gamma=0.3)
loss_fn = nn.CrossEntropyLoss()

for epoch in range(8):
    model.train()
    tot, hits, seen = 0.0, 0, 0
    for xb, yb in train_loader:
        opt.zero_grad()
        out = model(xb)
        loss = loss_fn(out, yb)
        loss.backward()
        opt.step()
        tot += loss.item() * len(yb)
        hits += (out.argmax(1) == yb).sum().item()
        seen += len(yb)
    sched.step()
    val_acc = evaluate(model, val_loader)
    print(f"epoch {epoch:2d}  train loss {tot / seen:.4f}  train acc {hits / seen:.3f}  val acc {val_acc:.3f}")
