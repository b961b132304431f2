# source: https://packtpub.com/en-ec/product/hands-on-computer-vision-with-tensorflow-2-9781788830645/chapter/training-on-complex-and-scarce-datasets-10/section/example-augmenting-images-for-our-autonomous-driving-application-ch10lvl1sec38
# expect: targets-displaced, labels-decoupled
# category: vision
# bug: the same random_flip helper is called once for the image and once for the label map, so each draws its own coins and the two agree only about half the time
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

cfg = {
    "seed": 42,
    "n_train": 400,
    "hw": 20,
    "n_classes": 3,
    "batch": 32,
    "lr": 0.05,
    "momentum": 0.9,
    "iters": 180,
}
rng = np.random.default_rng(cfg["seed"])
torch.manual_seed(cfg["seed"])


def synth_scene(rng, hw, n_classes):
    """Channels-last RGB scene and its (H, W) label map: a 'road' band and a 'car' box."""
    img = rng.normal(0.0, 0.15, size=(hw, hw, 3)).astype(np.float32)
    lab = np.zeros((hw, hw), dtype=np.int64)
    top = rng.integers(hw // 2, hw - 3)
    right = rng.integers(hw // 2, hw)
    img[top:, :right, 0] += 1.0                                # road, red channel, left-anchored
    lab[top:, :right] = 1
    cy, cx = rng.integers(0, hw - 5), rng.integers(0, hw // 2)
    img[cy:cy + 4, cx:cx + 5, 2] += 1.0                       # car, blue channel
    lab[cy:cy + 4, cx:cx + 5] = 2
    return img, lab


def random_flip(arr, rng, p=0.5):
    if rng.random() < p:
        arr = arr[:, ::-1]
    if rng.random() < p:
        arr = arr[::-1, :]
    return np.ascontiguousarray(arr)


def augment(img, lab, rng):
    return random_flip(img, rng), random_flip(lab, rng)


def to_tensors(imgs, labs):
    x = torch.from_numpy(np.stack(imgs)).permute(0, 3, 1, 2).contiguous()  # NHWC -> NCHW
    y = torch.from_numpy(np.stack(labs))
    return x, y


scenes = [synth_scene(rng, cfg["hw"], cfg["n_classes"]) for _ in range(cfg["n_train"])]

model = nn.Sequential(
    nn.Conv2d(3, 24, 3, padding=1), nn.BatchNorm2d(24), nn.ReLU(),
    nn.Conv2d(24, 24, 3, padding=1), nn.BatchNorm2d(24), nn.ReLU(),
    nn.Conv2d(24, cfg["n_classes"], 1),
)
opt = torch.optim.SGD(model.parameters(), lr=cfg["lr"], momentum=cfg["momentum"])


def train_step(batch_idx):
    pairs = [augment(*scenes[i], rng) for i in batch_idx]
    x, y = to_tensors(*zip(*pairs))
    loss = F.cross_entropy(model(x), y)
    opt.zero_grad()
    loss.backward()
    opt.step()
    return loss.item()


for it in range(cfg["iters"]):
    idx = rng.choice(cfg["n_train"], cfg["batch"], replace=False)
    l = train_step(idx)
    if it % 40 == 0 or it == cfg["iters"] - 1:
        print(f"iter {it:3d}  loss {l:.4f}")
