# source: https://github.com/pytorch/pytorch/issues/5406
# expect: healthy
# category: vision
# bug: none — a CNN with BatchNorm2d trained in train mode and evaluated under model.eval(), using running statistics
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(15)
N = 1500
imgs = torch.randn(N, 1, 12, 12) * 0.5
labels = torch.randint(0, 3, (N,))
for i in range(N):
    if labels[i] == 0:
        imgs[i, 0, 2:10, 5:7] += 2.0      # vertical bar
    elif labels[i] == 1:
        imgs[i, 0, 5:7, 2:10] += 2.0      # horizontal bar
    else:
        imgs[i, 0, 3:9, 3:9] += 1.0       # square

model = nn.Sequential(
    nn.Conv2d(1, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),
    nn.Conv2d(16, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.AdaptiveAvgPool2d(1),
    nn.Flatten(), nn.Linear(32, 3),
)
opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
for step in range(200):
    model.train()
    idx = torch.randint(0, 1200, (32,))
    loss = F.cross_entropy(model(imgs[idx]), labels[idx])
    opt.zero_grad()
    loss.backward()
    opt.step()
    if step % 40 == 0 or step == 199:
        model.eval()
        with torch.no_grad():
            acc = (model(imgs[1200:]).argmax(1) == labels[1200:]).float().mean().item()
        print(f"step {step} loss {loss.item():.4f} val acc {acc:.3f}")
