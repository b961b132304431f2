# source: zero-initialised classifier head as in google-research/vision_transformer (vit_jax/models_vit.py: head Dense with kernel_init=nn.initializers.zeros); users asking whether zero init "breaks symmetry" on the PyTorch forum
# expect: healthy
# category: classification
# bug: none - only the final classifier (and biases/BN affine terms) start at a constant; the conv filters are Kaiming-random, so the penultimate features differ per channel and the head's columns get distinct gradients after the first step
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset

SEED = 19
torch.manual_seed(SEED)
np.random.seed(SEED)

SR = 2000          # Hz, toy sample rate
DUR = 0.5          # seconds per clip
N_CLASSES = 5


def synth_clip(label, rng):
    t = np.arange(int(SR * DUR)) / SR
    f0 = rng.uniform(80, 400)
    if label == 0:                                   # steady tone
        x = np.sin(2 * np.pi * f0 * t)
    elif label == 1:                                 # up-chirp
        x = np.sin(2 * np.pi * (f0 * t + 300 * t ** 2))
    elif label == 2:                                 # pulse train
        x = (np.sin(2 * np.pi * 6 * t + rng.uniform(0, 6)) > 0.7) * np.sin(2 * np.pi * f0 * t)
    elif label == 3:                                 # AM tone
        x = (0.5 + 0.5 * np.sin(2 * np.pi * 10 * t)) * np.sin(2 * np.pi * f0 * t)
    else:                                            # band noise burst
        x = np.convolve(rng.normal(size=t.size), np.ones(6) / 6, mode="same") * 2
    x = x * rng.uniform(0.3, 1.0) + rng.normal(0, 0.3, t.size)
    return x.astype(np.float32)


class ClipDataset(Dataset):
    def __init__(self, n, seed):
        rng = np.random.default_rng(seed)
        self.labels = rng.integers(0, N_CLASSES, n)
        self.clips = np.stack([synth_clip(c, rng) for c in self.labels])

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, i):
        return torch.from_numpy(self.clips[i]).unsqueeze(0), int(self.labels[i])


class WaveCNN(nn.Module):
    def __init__(self, n_classes=N_CLASSES):
        super().__init__()
        chans = [1, 16, 32, 48, 64]
        blocks = []
        for cin, cout in zip(chans[:-1], chans[1:]):
            blocks += [nn.Conv1d(cin, cout, 9, padding=4), nn.BatchNorm1d(cout), nn.ReLU(), nn.MaxPool1d(4)]
        self.features = nn.Sequential(*blocks)
        self.head = nn.Linear(chans[-1] * 2, n_classes)
        self._init()

    def _init(self):
        for m in self.modules():
            if isinstance(m, nn.Conv1d):
                nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
                nn.init.constant_(m.bias, 0.0)
            elif isinstance(m, nn.BatchNorm1d):
                nn.init.constant_(m.weight, 1.0)
                nn.init.constant_(m.bias, 0.0)
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)

    def forward(self, wav):
        h = self.features(wav)
        pooled = torch.cat([h.mean(-1), h.amax(-1)], dim=1)
        return self.head(pooled)


def main():
    tr = DataLoader(ClipDataset(1200, 1), batch_size=32, shuffle=True)
    va = ClipDataset(400, 2)
    xv, yv = torch.from_numpy(va.clips).unsqueeze(1), torch.from_numpy(va.labels)
    model = WaveCNN()
    opt = torch.optim.AdamW(model.parameters(), lr=2e-3, weight_decay=1e-2)
    step = 0
    for epoch in range(4):
        model.train()
        for xb, yb in tr:
            loss = F.cross_entropy(model(xb), yb, label_smoothing=0.05)
            opt.zero_grad()
            loss.backward()
            opt.step()
            step += 1
            if step % 20 == 0:
                print(f"step {step:3d} loss {loss.item():.4f}")
        model.eval()
        with torch.no_grad():
            acc = (model(xv).argmax(1) == yv).float().mean().item()
        print(f"epoch {epoch} val_acc {acc:.3f}")


if __name__ == "__main__":
    main()
