# source: https://github.com/davidmascharka/MyNN/pull/70
# expect: symmetric-units
# category: vision
# bug: the model fills every conv and linear weight with 0.01 in __init__, so all conv channels compute the same map
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(2)


def make_images(n, size=16):
    # 4 classes: horizontal / vertical bar, in the red or the green channel
    imgs = 0.1 * torch.randn(n, 3, size, size)
    labels = torch.randint(0, 4, (n,))
    for i in range(n):
        ch = int(labels[i]) // 2
        pos = torch.randint(2, size - 2, (1,)).item()
        if labels[i] % 2 == 0:
            imgs[i, ch, pos, 2:size - 2] += 1.0
        else:
            imgs[i, ch, 2:size - 2, pos] += 1.0
    return imgs, labels


class SmallCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 16, 3, padding=1)
        self.conv2 = nn.Conv2d(16, 32, 3, padding=1)
        self.fc = nn.Linear(32, 4)
        for layer in (self.conv1, self.conv2, self.fc):
            layer.weight.data.fill_(0.01)
            layer.bias.data.zero_()

    def forward(self, x):
        x = F.relu(self.conv1(x))
        x = F.max_pool2d(x, 2)
        x = F.relu(self.conv2(x))
        x = x.mean(dim=(2, 3))
        return self.fc(x)


X, Y = make_images(512)
model = SmallCNN()
opt = torch.optim.RMSprop(model.parameters(), lr=1e-3)

for step in range(200):
    idx = torch.randint(0, 512, (32,))
    logits = model(X[idx])
    loss = F.cross_entropy(logits, Y[idx])
    opt.zero_grad()
    loss.backward()
    opt.step()
    if step % 25 == 0 or step == 199:
        with torch.no_grad():
            acc = (model(X).argmax(1) == Y).float().mean()
        print(f"step {step:3d}  loss {loss.item():.4f}  train acc {acc:.3f}")
