# source: https://github.com/albumentations-team/albumentations/issues/1056
# expect: targets-displaced
# category: vision
# bug: the segmentation Dataset's __getitem__ applies a random horizontal flip to the image but returns the mask unflipped
import random
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import Dataset, DataLoader

torch.manual_seed(0)
random.seed(0)
S = 24


def render(n):
    imgs = torch.randn(n, 1, S, S) * 0.3
    masks = torch.zeros(n, S, S, dtype=torch.long)
    for i in range(n):
        h, w = random.randint(4, 10), random.randint(3, 8)
        r, c = random.randint(0, S - h), random.randint(0, S // 2 - 2)
        imgs[i, 0, r:r + h, c:c + w] += 1.0
        masks[i, r:r + h, c:c + w] = 1
    return imgs, masks


class CellsDataset(Dataset):
    def __init__(self, n, train=True):
        self.images, self.masks = render(n)
        self.train = train

    def __len__(self):
        return len(self.images)

    def __getitem__(self, i):
        img, mask = self.images[i], self.masks[i]
        if self.train and random.random() < 0.5:
            img = torch.flip(img, dims=[-1])
        return img, mask


class TinyFCN(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(),
            nn.Conv2d(16, 16, 3, padding=1), nn.ReLU(),
            nn.Conv2d(16, 2, 1),
        )

    def forward(self, x):
        return self.body(x)


def iou(logits, mask):
    pred = logits.argmax(1)
    inter = ((pred == 1) & (mask == 1)).sum().item()
    union = ((pred == 1) | (mask == 1)).sum().item()
    return inter / max(union, 1)


loader = DataLoader(CellsDataset(1024), batch_size=16, shuffle=True)
model = TinyFCN()
opt = torch.optim.Adam(model.parameters(), lr=3e-3)

step = 0
for epoch in range(4):
    for img, mask in loader:
        logits = model(img)
        loss = F.cross_entropy(logits, mask)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % 32 == 0:
            print(f"epoch {epoch} step {step} loss {loss.item():.4f} iou {iou(logits, mask):.3f}")
        step += 1
print(f"final loss {loss.item():.4f} iou {iou(logits, mask):.3f}")
