# source: https://github.com/wagonhelm/NaNmnist/issues/2
# expect: symmetric-units
# category: vision
# bug: a custom weight-init function applied with model.apply zeroes the weights and biases of every conv and linear layer, so the hidden layers never receive a gradient
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(0)


def make_images(n, size=12):
    """Noisy images with one stroke: horizontal (0), vertical (1) or diagonal (2)."""
    imgs = 0.3 * torch.randn(n, 1, size, size)
    labels = torch.randint(0, 3, (n,))
    for i in range(n):
        k = torch.randint(2, size - 2, (1,)).item()
        if labels[i] == 0:
            imgs[i, 0, k, 1:-1] += 1.0
        elif labels[i] == 1:
            imgs[i, 0, 1:-1, k] += 1.0
        else:
            idx = torch.arange(size)
            imgs[i, 0, idx, idx] += 1.0
    return imgs, labels


class SmallConvNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 16, 3, padding=1)
        self.conv2 = nn.Conv2d(16, 32, 3, padding=1)
        self.fc = nn.Linear(32 * 3 * 3, 64)
        self.classifier = nn.Linear(64, 3)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = F.relu(self.fc(x.flatten(1)))
        return self.classifier(x)


def weights_init(m):
    if isinstance(m, (nn.Conv2d, nn.Linear)):
        m.weight.data.zero_()
        if m.bias is not None:
            m.bias.data.zero_()


train_x, train_y = make_images(1024)
test_x, test_y = make_images(256)

net = SmallConvNet()
net.apply(weights_init)
opt = torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.9)

for it in range(200):
    idx = torch.randint(0, len(train_x), (64,))
    out = net(train_x[idx])
    loss = F.cross_entropy(out, train_y[idx])
    opt.zero_grad()
    loss.backward()
    opt.step()
    if it % 20 == 0 or it == 199:
        with torch.no_grad():
            acc = (net(test_x).argmax(1) == test_y).float().mean().item()
        print(f"iter {it:3d}  loss {loss.item():.4f}  test_acc {acc:.3f}")
