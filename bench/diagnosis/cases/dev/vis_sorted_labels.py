# source: https://github.com/chuanyangjin/fast-DiT/issues/4
# expect: labels-decoupled, input-ignored
# category: vision
# bug: the image list is built from sorted(file names) but the label list keeps the directory-listing order, so every image is paired with another file's label
"""Shape classifier trained from an in-memory "folder" of image files and a label table."""
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset

torch.manual_seed(0)
rng = np.random.default_rng(2)

CLASSES = ["ring", "cross", "bar", "dot"]


def draw(name_idx):
    img = np.zeros((16, 16), dtype=np.float32)
    yy, xx = np.mgrid[:16, :16]
    cy, cx = rng.integers(5, 11, size=2)
    if name_idx == 0:
        d = np.sqrt((yy - cy) ** 2 + (xx - cx) ** 2)
        img[(d > 3) & (d < 5)] = 1.0
    elif name_idx == 1:
        img[cy, 2:14] = 1.0
        img[2:14, cx] = 1.0
    elif name_idx == 2:
        img[cy - 1:cy + 1, 1:15] = 1.0
    else:
        img[cy - 2:cy + 2, cx - 2:cx + 2] = 1.0
    return img + 0.1 * rng.standard_normal((16, 16)).astype(np.float32)


# a fake directory: file name -> image, and a "labels.csv" keyed by file name
folder, label_table = {}, {}
for i in range(800):
    name = f"img_{rng.integers(0, 10**6):06d}_{i}.png"    # names in arbitrary (listdir) order
    k = int(rng.integers(0, 4))
    folder[name] = draw(k)
    label_table[name] = k

listing = list(folder.keys())                              # os.listdir order


class FolderDataset(Dataset):
    def __init__(self):
        self.images = [folder[f] for f in sorted(listing)]        # sorted for reproducibility ...
        self.labels = [label_table[f] for f in listing]           # BUG: ... but labels keep listdir order

    def __len__(self):
        return len(self.images)

    def __getitem__(self, i):
        x = torch.from_numpy(self.images[i]).unsqueeze(0)
        return {"image": x, "label": torch.tensor(self.labels[i])}


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        )
        self.head = nn.Linear(32 * 16, 4)

    def forward(self, x):
        return self.head(self.features(x).flatten(1))


def train():
    loader = DataLoader(FolderDataset(), batch_size=32, shuffle=True)
    net = Net()
    opt = torch.optim.Adam(net.parameters(), lr=2e-3)
    for epoch in range(8):
        tot, n = 0.0, 0
        for batch in loader:
            logits = net(batch["image"])
            loss = F.cross_entropy(logits, batch["label"])
            opt.zero_grad()
            loss.backward()
            opt.step()
            tot += loss.item() * len(logits)
            n += len(logits)
        print(f"epoch {epoch} train loss {tot / n:.4f}")


if __name__ == "__main__":
    train()
