# source: https://androidkt.com/pytorch-changes-image-channel-order-between-channel-first-and-channel-last/
# expect: layout-scrambled
# category: vision
# bug: the collate_fn stacks channels-last frames and converts them with np.reshape(batch, (n, c, h, w)) instead of batch.transpose(0, 3, 1, 2)
import numpy as np
import torch
import torch.nn as nn
from torch.utils.data import DataLoader

torch.manual_seed(43)

config = {
    "image_size": 12,
    "channels": 4,         # RGB + near-infrared
    "n_classes": 4,
    "batch_size": 32,
    "epochs": 4,
    "lr": 1e-3,
}


def render_tiles(n, cfg, seed):
    rng = np.random.default_rng(seed)
    s, ch = cfg["image_size"], cfg["channels"]
    frames, labels = [], []
    for _ in range(n):
        lab = int(rng.integers(cfg["n_classes"]))
        tile = rng.normal(0.0, 0.25, size=(s, s, ch)).astype(np.float32)
        # class = which band is bright in the left half vs which band in the right half
        left_band, right_band = (0, 1) if lab < 2 else (2, 3)
        if lab % 2 == 0:
            tile[:, : s // 2, left_band] += 1.0
            tile[:, s // 2:, right_band] += 1.0
        else:
            tile[:, : s // 2, right_band] += 1.0
            tile[:, s // 2:, left_band] += 1.0
        frames.append(tile)
        labels.append(lab)
    return list(zip(frames, labels))


def to_nchw(frames):
    batch = np.stack(frames)                      # (n, h, w, c)
    n, h, w, c = batch.shape
    return np.reshape(batch, (n, c, h, w))


def collate_tiles(samples):
    frames, labels = zip(*samples)
    x = torch.from_numpy(np.ascontiguousarray(to_nchw(frames)))
    return x, torch.tensor(labels)


def build_model(cfg):
    return nn.Sequential(
        nn.Conv2d(cfg["channels"], 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(),
        nn.Conv2d(16, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(),
        nn.AdaptiveAvgPool2d((1, 2)), nn.Flatten(),
        nn.Linear(32, cfg["n_classes"]),
    )


def train_one_epoch(model, loader, opt):
    model.train()
    tot, correct, seen = 0.0, 0, 0
    for x, y in loader:
        logits = model(x)
        loss = nn.functional.cross_entropy(logits, y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        tot += loss.item() * len(y)
        correct += (logits.argmax(1) == y).sum().item()
        seen += len(y)
    return tot / seen, correct / seen


def main(cfg):
    data = render_tiles(640, cfg, seed=43)
    loader = DataLoader(data, batch_size=cfg["batch_size"], shuffle=True, collate_fn=collate_tiles)
    model = build_model(cfg)
    opt = torch.optim.Adam(model.parameters(), lr=cfg["lr"])
    for epoch in range(cfg["epochs"]):
        loss, acc = train_one_epoch(model, loader, opt)
        print(f"epoch {epoch}  loss {loss:.4f}  acc {acc:.3f}")


main(config)
