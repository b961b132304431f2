# source: https://github.com/Selen-Suyue/DensePolicy2D/issues/3
# expect: healthy
# category: vision
# bug: none: channels-last (B, H, W, C) images are moved to (B, C, H, W) with permute(0, 3, 1, 2) before the conv, then conv features are flattened with a legitimate view
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import Dataset, DataLoader

torch.manual_seed(0)
np.random.seed(0)


class ShapesHWC(Dataset):
    """Synthetic RGB frames stored the way an image library returns them: H x W x C."""

    def __init__(self, n, size=16):
        self.images = np.random.rand(n, size, size, 3).astype(np.float32) * 0.2
        self.labels = np.random.randint(0, 3, n)
        for i, lab in enumerate(self.labels):
            r0, c0 = np.random.randint(0, size - 4, 2)
            self.images[i, r0:r0 + 4, c0:c0 + 4, :] = 0.3
            self.images[i, r0:r0 + 4, c0:c0 + 4, lab] = 1.0

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, i):
        return torch.from_numpy(self.images[i]), int(self.labels[i])


class SmallCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(3, 16, 3, padding=1)
        self.c2 = nn.Conv2d(16, 32, 3, padding=1)
        self.fc = nn.Linear(32, 3)

    def forward(self, img):
        x = img.permute(0, 3, 1, 2)
        x = F.max_pool2d(F.relu(self.c1(x)), 2)
        x = F.relu(self.c2(x))
        x = F.adaptive_max_pool2d(x, 1).flatten(1)
        return self.fc(x)


train = DataLoader(ShapesHWC(2048), batch_size=32, shuffle=True)
model = SmallCNN()
opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)

step = 0
for epoch in range(4):
    for img, lab in train:
        logits = model(img)
        loss = F.cross_entropy(logits, lab)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % 40 == 0:
            acc = (logits.argmax(1) == lab).float().mean().item()
            print(f"epoch {epoch} step {step:4d} loss {loss.item():.4f} acc {acc:.3f}")
        step += 1
print(f"final loss {loss.item():.4f}")
