# source: PyTorch forum "MSELoss with reduction='sum' makes my loss explode" / Stack Overflow "Why does my autoencoder diverge with size_average=False" (legacy size_average=False == reduction='sum' carried over from old tutorials)
# expect: lr-too-high, loss-divergence, exploding-gradients, wrong-loss-reduction
# category: vision
# bug: TRAIN_CFG["loss"]["reduction"] = "sum" makes the reconstruction loss a sum over 32*1*24*24 ~ 18k pixels while the SGD lr (0.1) was chosen for a per-pixel mean; the effective step is ~18000x too large and the denoiser diverges to inf/NaN
import numpy as np
import torch
import torch.nn as nn
from torch.utils.data import DataLoader, Dataset

torch.manual_seed(23)
np.random.seed(23)

TRAIN_CFG = {
    "epochs": 5,
    "batch_size": 32,
    "optim": {"name": "sgd", "lr": 0.1, "momentum": 0.9},
    "loss": {"name": "mse", "reduction": "sum"},
    "noise_std": 0.3,
}


class CellImages(Dataset):
    """Fluorescence-microscopy-like crops: a few gaussian nuclei on dark background."""

    def __init__(self, n, seed, size=24):
        rng = np.random.default_rng(seed)
        yy, xx = np.mgrid[:size, :size]
        self.imgs = np.zeros((n, 1, size, size), np.float32)
        for k in range(n):
            for _ in range(rng.integers(3, 7)):
                cy, cx = rng.uniform(3, size - 3, 2)
                r = rng.uniform(2.0, 4.0)
                self.imgs[k, 0] += rng.uniform(0.5, 1.0) * np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * r * r))
        self.imgs = np.clip(self.imgs, 0, 1)

    def __len__(self):
        return len(self.imgs)

    def __getitem__(self, i):
        return torch.from_numpy(self.imgs[i])


def make_criterion(cfg):
    if cfg["name"] == "mse":
        return nn.MSELoss(reduction=cfg["reduction"])
    if cfg["name"] == "l1":
        return nn.L1Loss(reduction=cfg["reduction"])
    raise ValueError(cfg["name"])


def make_optimizer(params, cfg):
    if cfg["name"] == "sgd":
        return torch.optim.SGD(params, lr=cfg["lr"], momentum=cfg["momentum"])
    return torch.optim.Adam(params, lr=cfg["lr"])


class DenoiseAE(nn.Module):
    def __init__(self):
        super().__init__()
        self.enc = nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(),
            nn.Conv2d(16, 32, 3, stride=2, padding=1), nn.ReLU(),
            nn.Conv2d(32, 32, 3, stride=2, padding=1), nn.ReLU(),
        )
        self.dec = nn.Sequential(
            nn.ConvTranspose2d(32, 32, 4, stride=2, padding=1), nn.ReLU(),
            nn.ConvTranspose2d(32, 16, 4, stride=2, padding=1), nn.ReLU(),
            nn.Conv2d(16, 1, 3, padding=1),
        )

    def forward(self, x):
        return self.dec(self.enc(x))


def main(cfg=TRAIN_CFG):
    train_dl = DataLoader(CellImages(1280, 0), batch_size=cfg["batch_size"], shuffle=True)
    val = torch.from_numpy(CellImages(200, 1).imgs)
    g = torch.Generator().manual_seed(0)
    val_noisy = val + cfg["noise_std"] * torch.randn(val.shape, generator=g)
    model = DenoiseAE()
    crit = make_criterion(cfg["loss"])
    opt = make_optimizer(model.parameters(), cfg["optim"])
    print(f"noisy-input baseline psnr {(-10 * torch.log10(((val_noisy - val) ** 2).mean())).item():.2f} dB")
    for epoch in range(cfg["epochs"]):
        for it, clean in enumerate(train_dl):
            noisy = clean + cfg["noise_std"] * torch.randn_like(clean)
            loss = crit(model(noisy), clean)
            opt.zero_grad()
            loss.backward()
            opt.step()
            if it % 10 == 0:
                print(f"epoch {epoch} it {it:2d} loss {loss.item():.5g}")
        model.eval()
        with torch.no_grad():
            mse = ((model(val_noisy) - val) ** 2).mean()
        model.train()
        print(f"== epoch {epoch} val_mse {mse.item():.5g} psnr {(-10 * torch.log10(mse)).item():.2f} dB")


if __name__ == "__main__":
    main()
