# source: https://github.com/albumentations-team/albumentations/issues/397 (the same random crop was expected on an input/target pair, but each call drew its own parameters), transposed to sound-event detection with frame-level (strong) labels
# expect: targets-displaced
# category: sequence
# bug: the collate_fn crops the feature clip and its frame-level event labels with two separate random_crop() calls, each drawing its own offset, so the label window is shifted relative to the audio; the event detector learns only the base rate and frame F1 stays low
import random
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import Dataset, DataLoader

random.seed(27)
np.random.seed(27)
torch.manual_seed(27)

N_BANDS = 20
CLIP = 300        # frames per recording
CROP = 96         # training crop length


def synth_clip(rng):
    """Band-energy features of a noisy recording with a few 'dog bark' events."""
    feats = rng.randn(N_BANDS, CLIP).astype(np.float32) * 0.5
    labels = np.zeros(CLIP, np.float32)
    for _ in range(rng.randint(2, 6)):
        on = rng.randint(0, CLIP - 20)
        dur = rng.randint(6, 20)
        band = rng.randint(4, 14)
        feats[band:band + 4, on:on + dur] += rng.uniform(1.0, 2.0)
        feats[band + 5:band + 7, on:on + dur] += 0.8
        labels[on:on + dur] = 1.0
    return feats, labels


class BarkClips(Dataset):
    def __init__(self, n, seed):
        rng = np.random.RandomState(seed)
        clips = [synth_clip(rng) for _ in range(n)]
        self.x = [torch.from_numpy(c[0]) for c in clips]
        self.y = [torch.from_numpy(c[1]) for c in clips]

    def __len__(self):
        return len(self.x)

    def __getitem__(self, i):
        return self.x[i], self.y[i]


def random_crop(t, length):
    start = random.randint(0, t.shape[-1] - length)
    return t[..., start:start + length]


def train_collate(batch):
    xs, ys = [], []
    for x, y in batch:
        xs.append(random_crop(x, CROP))
        ys.append(random_crop(y, CROP))
    return torch.stack(xs), torch.stack(ys)


class TCN(nn.Module):
    def __init__(self, ch=48):
        super().__init__()
        self.inp = nn.Conv1d(N_BANDS, ch, 1)
        self.layers = nn.ModuleList(
            [nn.Conv1d(ch, ch, 3, padding=d, dilation=d) for d in (1, 2, 4, 8)])
        self.norms = nn.ModuleList([nn.BatchNorm1d(ch) for _ in range(4)])
        self.out = nn.Conv1d(ch, 1, 1)

    def forward(self, x):                     # (B, bands, frames)
        h = self.inp(x)
        for conv, bn in zip(self.layers, self.norms):
            h = h + F.relu(bn(conv(h)))
        return self.out(h).squeeze(1)        # (B, frames) logits


train_dl = DataLoader(BarkClips(800, 0), batch_size=32, shuffle=True, collate_fn=train_collate)
val = BarkClips(150, 1)
val_x, val_y = torch.stack(val.x), torch.stack(val.y)

model = TCN()
opt = torch.optim.Adam(model.parameters(), lr=2e-3)
pos_weight = torch.tensor(2.0)

for epoch in range(6):
    model.train()
    tl = []
    for x, y in train_dl:
        loss = F.binary_cross_entropy_with_logits(model(x), y, pos_weight=pos_weight)
        opt.zero_grad()
        loss.backward()
        opt.step()
        tl.append(loss.item())
    model.eval()
    with torch.no_grad():
        pred = (model(val_x) > 0).float()
        tp = (pred * val_y).sum().item()
        f1 = 2 * tp / (pred.sum().item() + val_y.sum().item() + 1e-8)
    print(f"epoch {epoch}  train bce {np.mean(tl):.4f}  val frame F1 {f1:.3f}")
