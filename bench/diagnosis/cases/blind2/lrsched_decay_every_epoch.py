# source: https://github.com/songdejia/Siamese-RPN-pytorch/issues/6
# expect: scheduler-too-fast, lr-too-low
# category: vision
# bug: the hand-written adjust_learning_rate uses lr * 0.1 ** epoch instead of lr * 0.1 ** (epoch // 30), so the LR drops 10x every epoch and is ~0 after two epochs
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(21)

BASE_LR = 0.005
N_CLASSES = 8

templates = torch.randn(N_CLASSES, 1, 10, 10)
labels = torch.randint(0, N_CLASSES, (1600,))
images = templates[labels] + 2.5 * torch.randn(1600, 1, 10, 10)


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 16, 3, padding=1)
        self.conv2 = nn.Conv2d(16, 32, 3, padding=1)
        self.fc = nn.Linear(32 * 5 * 5, N_CLASSES)

    def forward(self, x):
        x = F.relu(self.conv1(x))
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        return self.fc(x.flatten(1))


def adjust_learning_rate(optimizer, epoch):
    lr = BASE_LR * (0.1 ** epoch)
    for param_group in optimizer.param_groups:
        param_group["lr"] = lr


model = Net()
optimizer = torch.optim.SGD(model.parameters(), lr=BASE_LR, momentum=0.9, weight_decay=1e-4)

batch_size = 64
for epoch in range(10):
    adjust_learning_rate(optimizer, epoch)
    perm = torch.randperm(len(images))
    losses = []
    for i in range(0, len(images), batch_size):
        idx = perm[i:i + batch_size]
        out = model(images[idx])
        loss = F.cross_entropy(out, labels[idx])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    print(f"Epoch [{epoch}] lr {optimizer.param_groups[0]['lr']:.1e}  first {losses[0]:.4f}  last {losses[-1]:.4f}  mean {sum(losses) / len(losses):.4f}")
