# source: https://stats.stackexchange.com/questions/372762/why-normalize-when-all-features-are-on-the-same-scale
# expect: unnormalized-inputs
# category: vision
# bug: uint8 images are cast to float but never divided by 255 (or standardized), so the CNN sees pixel values in [0, 255]; the first logits are huge and SGD cannot train the classifier
"""Small CNN on 16x16 grayscale "glyphs" (4 shapes), images stored as uint8 like a loaded PNG folder."""
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(0)
rng = np.random.default_rng(0)

N_CLASSES = 4


def make_glyph(k, rng):
    img = np.full((16, 16), 40.0)
    r, c = rng.integers(3, 13, size=2)
    if k == 0:                      # horizontal bar
        img[r, 2:14] = 230
    elif k == 1:                    # vertical bar
        img[2:14, c] = 230
    elif k == 2:                    # box outline
        img[3, 3:13] = img[12, 3:13] = 230
        img[3:13, 3] = img[3:13, 12] = 230
    else:                           # diagonal
        for i in range(2, 14):
            img[i, i] = 230
    img += rng.normal(0, 12, size=img.shape)
    return np.clip(img, 0, 255).astype(np.uint8)


labels = rng.integers(0, N_CLASSES, size=1024)
images = np.stack([make_glyph(k, rng) for k in labels])          # (N, 16, 16) uint8


class GlyphNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 16, 3, padding=1)
        self.conv2 = nn.Conv2d(16, 32, 3, padding=1)
        self.fc1 = nn.Linear(32 * 4 * 4, 64)
        self.fc2 = nn.Linear(64, N_CLASSES)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = F.relu(self.fc1(x.flatten(1)))
        return self.fc2(x)


model = GlyphNet()
opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)

X = torch.from_numpy(images).float().unsqueeze(1)   # BUG: still 0..255, no /255, no mean/std
Y = torch.from_numpy(labels).long()

for epoch in range(6):
    perm = torch.randperm(len(X))
    total, correct, seen = 0.0, 0, 0
    for i in range(0, len(X), 32):
        idx = perm[i:i + 32]
        xb, yb = X[idx], Y[idx]
        logits = model(xb)
        loss = F.cross_entropy(logits, yb)
        opt.zero_grad()
        loss.backward()
        opt.step()
        total += loss.item() * len(idx)
        correct += (logits.argmax(1) == yb).sum().item()
        seen += len(idx)
    print(f"epoch {epoch}  loss {total / seen:.4f}  acc {correct / seen:.3f}")
