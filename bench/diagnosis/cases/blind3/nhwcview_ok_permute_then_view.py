# source: https://openillumi.com/?p=83529
# expect: healthy
# category: vision
# bug: none; channels-last numpy images are converted with permute(2, 0, 1) in the Dataset, and view() is only used to flatten conv features (a legitimate view)
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import Dataset, DataLoader

torch.manual_seed(50)
rng = np.random.default_rng(50)
IMG = 16


class ColourShapes(Dataset):
    def __init__(self, n):
        self.items = []
        for _ in range(n):
            label = int(rng.integers(0, 6))
            img = rng.uniform(0.0, 0.3, size=(IMG, IMG, 3)).astype(np.float32)
            s = 7 if label // 3 else 3
            r, c = rng.integers(0, IMG - s, size=2)
            img[r:r + s, c:c + s, label % 3] = 1.0
            self.items.append((img, label))

    def __len__(self):
        return len(self.items)

    def __getitem__(self, idx):
        img, label = self.items[idx]
        return torch.from_numpy(img).permute(2, 0, 1).contiguous(), label


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 16, 3, padding=1)
        self.conv2 = nn.Conv2d(16, 16, 3, padding=1)
        self.fc = nn.Linear(16 * 4 * 4, 6)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = x.view(x.size(0), -1)
        return self.fc(x)


loader = DataLoader(ColourShapes(960), batch_size=32, shuffle=True)
net = Net()
opt = torch.optim.Adam(net.parameters(), lr=2e-3)
for epoch in range(8):
    correct = total = 0
    for images, labels in loader:
        out = net(images)
        loss = F.cross_entropy(out, labels)
        opt.zero_grad()
        loss.backward()
        opt.step()
        correct += (out.argmax(1) == labels).sum().item()
        total += labels.numel()
    print(f"epoch {epoch} loss {loss.item():.4f} acc {correct / total:.3f}")
