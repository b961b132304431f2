# source: https://openillumi.com/?p=83529
# expect: layout-scrambled
# category: vision
# bug: the Dataset holds H x W x 3 numpy images and turns them into C x H x W with torch.from_numpy(img).view(3, H, W) instead of permute(2, 0, 1)
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import Dataset, DataLoader

torch.manual_seed(40)
rng = np.random.default_rng(40)

IMG = 16


class ColourShapes(Dataset):
    """6 classes: a red / green / blue square, either small or large, on a noisy background."""

    def __init__(self, n):
        self.images = []
        self.labels = []
        for _ in range(n):
            label = int(rng.integers(0, 6))
            img = rng.uniform(0.0, 0.3, size=(IMG, IMG, 3)).astype(np.float32)
            colour, big = label % 3, label // 3
            s = 7 if big else 3
            r, c = rng.integers(0, IMG - s, size=2)
            img[r:r + s, c:c + s, colour] = 1.0
            self.images.append(img)
            self.labels.append(label)

    def __len__(self):
        return len(self.images)

    def __getitem__(self, idx):
        img = torch.from_numpy(self.images[idx])
        img = img.view(3, IMG, IMG)
        return img, self.labels[idx]


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 16, 3, padding=1)
        self.conv2 = nn.Conv2d(16, 32, 3, padding=1)
        self.fc = nn.Linear(32, 6)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.relu(self.conv2(x))
        x = F.adaptive_max_pool2d(x, 1).flatten(1)
        return self.fc(x)


train_loader = DataLoader(ColourShapes(960), batch_size=32, shuffle=True)
net = Net()
optimizer = torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.9)

step = 0
for epoch in range(8):
    correct = 0
    total = 0
    for images, labels in train_loader:
        outputs = net(images)
        loss = F.cross_entropy(outputs, labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        correct += (outputs.argmax(1) == labels).sum().item()
        total += labels.size(0)
        step += 1
    print(f"epoch {epoch} step {step} loss {loss.item():.4f} acc {correct / total:.3f}")
