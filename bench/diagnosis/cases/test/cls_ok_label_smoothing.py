# source: https://github.com/pytorch/pytorch/issues/7455
# expect: healthy
# category: classification
# bug: none - a hand-written label-smoothing cross-entropy (log-softmax over the class axis, smoothing 0.1) on a small CNN; its loss floor is above zero by design
"""Small CNN on 1x8x8 bar/cross images; hand-written smoothed cross-entropy; Adam + cosine schedule."""
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset

torch.manual_seed(8)
NUM_CLASSES = 4


def make_images(n, seed):
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, NUM_CLASSES, (n,), generator=g)
    x = 0.3 * torch.randn(n, 1, 8, 8, generator=g)
    pos = torch.randint(1, 7, (n,), generator=g)
    for i in range(n):
        c, k = y[i].item(), pos[i].item()
        if c == 0:
            x[i, 0, k, :] += 1.0
        elif c == 1:
            x[i, 0, :, k] += 1.0
        elif c == 2:
            x[i, 0, k, :] += 1.0
            x[i, 0, :, k] += 1.0
        else:
            x[i, 0] += torch.eye(8)
    return x, y


def smoothed_cross_entropy(logits, target, smoothing=0.1):
    logp = F.log_softmax(logits, dim=1)
    n_classes = logits.shape[1]
    true_dist = torch.full_like(logp, smoothing / (n_classes - 1))
    true_dist.scatter_(1, target.unsqueeze(1), 1.0 - smoothing)
    return -(true_dist * logp).sum(dim=1).mean()


class TinyCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 12, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(12, 24, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1),
        )
        self.classifier = nn.Linear(24, NUM_CLASSES)

    def forward(self, x):
        return self.classifier(self.features(x).flatten(1))


def main():
    x_tr, y_tr = make_images(1200, seed=1)
    x_va, y_va = make_images(300, seed=2)
    loader = DataLoader(TensorDataset(x_tr, y_tr), batch_size=64, shuffle=True)
    model = TinyCNN()
    epochs = 8
    opt = torch.optim.Adam(model.parameters(), lr=5e-3)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs)
    for epoch in range(epochs):
        model.train()
        total = 0.0
        for xb, yb in loader:
            opt.zero_grad()
            loss = smoothed_cross_entropy(model(xb), yb)
            loss.backward()
            opt.step()
            total += loss.item()
        sched.step()
        model.eval()
        with torch.no_grad():
            probs = F.softmax(model(x_va), dim=1)
            acc = (probs.argmax(dim=1) == y_va).float().mean().item()
        print(f"epoch {epoch:2d}  loss {total / len(loader):.4f}  val acc {acc:.3f}  lr {sched.get_last_lr()[0]:.5f}")


if __name__ == "__main__":
    main()
