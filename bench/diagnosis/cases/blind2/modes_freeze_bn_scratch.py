# source: https://github.com/jfzhang95/pytorch-deeplab-xception/issues/140
# expect: train-in-eval-mode
# category: vision
# bug: a freeze_bn() helper copied from a fine-tuning recipe puts every BatchNorm in eval() although the CNN is trained from scratch, so BN normalises 0-255 pixels with its initial running stats (mean 0, var 1)
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(40)


def make(n):
    y = torch.randint(0, 3, (n,))
    x = torch.rand(n, 1, 12, 12) * 60 + 80
    for i in range(n):
        if y[i] == 0:
            x[i, 0, :, 3:5] += 90
        elif y[i] == 1:
            x[i, 0, 3:5, :] += 90
        else:
            x[i, 0, 4:8, 4:8] -= 70
    return x.round(), y


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(1, 16, 3, padding=1)
        self.b1 = nn.BatchNorm2d(16)
        self.c2 = nn.Conv2d(16, 32, 3, padding=1)
        self.b2 = nn.BatchNorm2d(32)
        self.fc = nn.Linear(32, 3)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.b1(self.c1(x))), 2)
        x = F.relu(self.b2(self.c2(x)))
        return self.fc(x.mean((2, 3)))

    def freeze_bn(self):
        for m in self.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.eval()


train_x, train_y = make(1200)
val_x, val_y = make(300)
net = Net()
opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
for epoch in range(5):
    net.train()
    net.freeze_bn()
    perm = torch.randperm(1200)
    for i in range(0, 1200, 32):
        idx = perm[i:i + 32]
        loss = F.cross_entropy(net(train_x[idx]), train_y[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
    net.eval()
    with torch.no_grad():
        acc = (net(val_x).argmax(1) == val_y).float().mean().item()
    print(f"epoch {epoch} last loss {loss.item():.4f} val acc {acc:.3f}")
