# source: https://github.com/facebookresearch/detectron2/issues/917
# expect: healthy
# category: vision
# bug: none: a paired transform draws one coin per flip and applies it to both the image and its mask
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


def paired_flip(img, mask, p=0.5):
    if random.random() < p:
        img, mask = img.flip(-1), mask.flip(-1)
    if random.random() < p:
        img, mask = img.flip(-2), mask.flip(-2)
    return img, mask


class CellsDataset(Dataset):
    def __init__(self, n, train=True):
        self.images, self.masks = render(n)
        self.train = train

    def __len__(self):
        return len(self.images)

    def __getitem__(self, i):
        img, mask = self.images[i], self.masks[i]
        if self.train:
            img, mask = paired_flip(img, mask)
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
