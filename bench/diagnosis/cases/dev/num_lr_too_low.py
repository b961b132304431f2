# source: https://github.com/shiningrain/AUTOTRAINER
# expect: lr-too-low
# category: vision
# bug: the learning rate was entered as 1e-7 instead of 1e-3 (AutoTrainer's "slow convergence" problem with a too-small learning rate); each Adam step moves the weights by about a ten-millionth, so after hundreds of steps the loss is still at chance
import torch
import torch.nn as nn
from torch.utils.data import DataLoader, TensorDataset

torch.manual_seed(7)

# 16x16 grey images of 4 oriented bar patterns plus noise
N = 1024
labels = torch.randint(0, 4, (N,))
imgs = 0.3 * torch.randn(N, 1, 16, 16)
for i in range(N):
    k = labels[i].item()
    if k == 0:
        imgs[i, 0, 7:9, :] += 1.0
    elif k == 1:
        imgs[i, 0, :, 7:9] += 1.0
    elif k == 2:
        imgs[i, 0].diagonal().add_(1.0)
    else:
        r = torch.arange(16)
        imgs[i, 0, r, 15 - r] += 1.0

loader = DataLoader(TensorDataset(imgs, labels), batch_size=32, shuffle=True)

net = nn.Sequential(
    nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
    nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
    nn.Flatten(), nn.Linear(32 * 4 * 4, 4),
)
LEARNING_RATE = 1e-7
opt = torch.optim.Adam(net.parameters(), lr=LEARNING_RATE)
criterion = nn.CrossEntropyLoss()

for epoch in range(6):
    running, correct = 0.0, 0
    for xb, yb in loader:
        out = net(xb)
        loss = criterion(out, yb)
        opt.zero_grad()
        loss.backward()
        opt.step()
        running += loss.item() * len(yb)
        correct += (out.argmax(1) == yb).sum().item()
    print(f"epoch {epoch}  loss {running / N:.4f}  acc {correct / N:.3f}")
