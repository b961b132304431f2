# source: https://github.com/Lornatang/SRGAN-PyTorch/issues/1
# expect: scheduler-too-fast
# category: regression
# bug: StepLR(step_size=epochs // 4, gamma=0.1) is meant per epoch but scheduler.step() is called after every batch, so the LR collapses within the first epoch
import torch
import torch.nn as nn
from torch.utils.data import TensorDataset, DataLoader

torch.manual_seed(20)

# tabular regression: predict energy use from 8 sensor features
X = torch.randn(5000, 8)
y = (2 * torch.sin(X[:, 0]) + X[:, 1] * X[:, 2] + 0.5 * X[:, 3] ** 2 + 0.1 * torch.randn(5000)).unsqueeze(1)
loader = DataLoader(TensorDataset(X, y), batch_size=50, shuffle=True)  # 100 batches per epoch

epochs = 8
model = nn.Sequential(nn.Linear(8, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 1))
optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=epochs // 4, gamma=0.1)
criterion = nn.MSELoss()


def train_one_epoch(epoch):
    model.train()
    total = 0.0
    for i, (xb, yb) in enumerate(loader):
        optimizer.zero_grad()
        loss = criterion(model(xb), yb)
        loss.backward()
        optimizer.step()
        scheduler.step()
        total += loss.item()
        if i % 25 == 0:
            print(f"epoch {epoch} iter {i:3d} loss {loss.item():.4f} lr {scheduler.get_last_lr()[0]:.2e}")
    return total / len(loader)


for epoch in range(epochs):
    avg = train_one_epoch(epoch)
    print(f"== epoch {epoch} avg loss {avg:.4f}")
