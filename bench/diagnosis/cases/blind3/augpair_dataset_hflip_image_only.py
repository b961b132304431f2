# source: https://github.com/pytorch/vision/issues/9
# expect: targets-displaced, labels-decoupled
# category: vision
# bug: the segmentation Dataset mirrors the image at random but returns the mask as it was, so half the pairs have the mask on the other side of the image
import random
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import Dataset, DataLoader

random.seed(0)
torch.manual_seed(0)


class ShapesDataset(Dataset):
    def __init__(self, n=400, size=16, train=True):
        self.train = train
        self.images, self.masks = [], []
        for _ in range(n):
            img = torch.rand(1, size, size) * 0.4
            mask = torch.zeros(size, size, dtype=torch.long)
            for _ in range(random.randint(1, 3)):
                h, w = random.randint(3, 6), random.randint(3, 6)
                y, x = random.randint(0, size - h), random.randint(0, size // 2)
                img[:, y:y + h, x:x + w] += 0.6
                mask[y:y + h, x:x + w] = 1
            self.images.append(img)
            self.masks.append(mask)

    def __len__(self):
        return len(self.images)

    def __getitem__(self, idx):
        image = self.images[idx]
        mask = self.masks[idx]
        if self.train and random.random() > 0.5:
            image = torch.flip(image, dims=[2])
        return image, mask


class TinyUNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.enc1 = nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.ReLU())
        self.enc2 = nn.Sequential(nn.MaxPool2d(2), nn.Conv2d(16, 32, 3, padding=1), nn.ReLU())
        self.up = nn.ConvTranspose2d(32, 16, 2, stride=2)
        self.dec = nn.Sequential(nn.Conv2d(32, 16, 3, padding=1), nn.ReLU(), nn.Conv2d(16, 2, 1))

    def forward(self, x):
        e1 = self.enc1(x)
        e2 = self.enc2(e1)
        return self.dec(torch.cat([self.up(e2), e1], dim=1))


train_loader = DataLoader(ShapesDataset(), batch_size=16, shuffle=True)
model = TinyUNet()
optimizer = torch.optim.Adam(model.parameters(), lr=2e-3)
criterion = nn.CrossEntropyLoss()

step = 0
for epoch in range(8):
    for images, masks in train_loader:
        outputs = model(images)
        loss = criterion(outputs, masks)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if step % 40 == 0:
            print(f"epoch {epoch} step {step} loss {loss.item():.4f}")
        step += 1
print("final loss", loss.item())
