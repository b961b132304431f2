# source: https://github.com/lucidrains/DALLE-pytorch/pull/194
# expect: labels-decoupled
# category: vision
# bug: the Dataset skips unreadable images through an index list for the image but looks the label up with the raw index, so after the first skipped file every label belongs to another image
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import Dataset, DataLoader

torch.manual_seed(4)

N_CLASSES = 5


def render(cls, n):
    # class = orientation of a bar in a 16x16 image
    img = torch.zeros(n, 1, 16, 16)
    for i in range(n):
        c = 4 + torch.randint(0, 8, (1,)).item()
        if cls == 0:
            img[i, 0, c, 2:14] = 1
        elif cls == 1:
            img[i, 0, 2:14, c] = 1
        elif cls == 2:
            img[i, 0, range(2, 14), range(2, 14)] = 1
        elif cls == 3:
            img[i, 0, range(2, 14), range(13, 1, -1)] = 1
        else:
            img[i, 0, c - 2:c + 2, c - 2:c + 2] = 1
    return img + 0.3 * torch.randn_like(img)


class ShapesDataset(Dataset):
    def __init__(self, n=1500):
        self.labels = torch.randint(0, N_CLASSES, (n,))
        self.images = torch.cat([render(int(c), 1) for c in self.labels])
        corrupt = torch.rand(n) < 0.1      # files that failed to decode
        self.images[corrupt] = float("nan")
        self.keep = [i for i in range(n) if not torch.isnan(self.images[i]).any()]

    def __len__(self):
        return len(self.keep)

    def __getitem__(self, idx):
        img = self.images[self.keep[idx]]
        label = self.labels[idx]
        return img, label


class SmallCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(1, 16, 3, padding=1)
        self.c2 = nn.Conv2d(16, 32, 3, padding=1)
        self.fc = nn.Linear(32 * 4 * 4, N_CLASSES)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.c1(x)), 2)
        x = F.max_pool2d(F.relu(self.c2(x)), 2)
        return self.fc(x.flatten(1))


ds = ShapesDataset()
loader = DataLoader(ds, batch_size=32, shuffle=True)
net = SmallCNN()
opt = torch.optim.Adam(net.parameters(), lr=2e-3)

step = 0
for epoch in range(8):
    tot, hit, seen = 0.0, 0, 0
    for imgs, labels in loader:
        out = net(imgs)
        loss = F.cross_entropy(out, labels)
        opt.zero_grad()
        loss.backward()
        opt.step()
        tot += loss.item() * len(labels)
        hit += (out.argmax(1) == labels).sum().item()
        seen += len(labels)
        step += 1
    print(f"epoch {epoch} steps {step} loss {tot / seen:.4f} acc {hit / seen:.3f}")
