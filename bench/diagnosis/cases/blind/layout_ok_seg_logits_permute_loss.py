# source: https://github.com/divamgupta/image-segmentation-keras/issues/41
# expect: healthy
# category: vision
# bug: none: per-pixel loss moves the class axis last with permute(0, 2, 3, 1) before flattening (B, C, H, W) logits to (B*H*W, C)
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(3)
B, H, W, N_CLS = 12, 20, 20, 4


def sample_batch():
    """Noisy images with up to three coloured blobs; mask holds the blob class per pixel."""
    img = 0.2 * torch.randn(B, 3, H, W)
    mask = torch.zeros(B, H, W, dtype=torch.long)
    for b in range(B):
        for cls in range(1, N_CLS):
            r, c = torch.randint(0, H - 6, (2,)).tolist()
            mask[b, r:r + 6, c:c + 6] = cls
    for cls in range(1, N_CLS):
        img[:, cls - 1] += (mask == cls).float()
    return img, mask


class PixelNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.f = nn.Sequential(
            nn.Conv2d(3, 24, 3, padding=1), nn.BatchNorm2d(24), nn.ReLU(),
            nn.Conv2d(24, 24, 3, padding=1), nn.BatchNorm2d(24), nn.ReLU(),
            nn.Conv2d(24, N_CLS, 1),
        )

    def forward(self, x):
        return self.f(x)


def pixel_loss(logits, mask):
    return F.cross_entropy(logits.permute(0, 2, 3, 1).reshape(-1, N_CLS), mask.view(-1))


net = PixelNet()
opt = torch.optim.Adam(net.parameters(), lr=3e-3)
for it in range(200):
    img, mask = sample_batch()
    logits = net(img)
    loss = pixel_loss(logits, mask)
    opt.zero_grad()
    loss.backward()
    opt.step()
    if it % 25 == 0 or it == 199:
        acc = (logits.argmax(1) == mask).float().mean().item()
        print(f"it {it} loss {loss.item():.4f} pixel_acc {acc:.3f}")
