# source: https://github.com/meetps/pytorch-semseg/issues/222
# expect: healthy
# category: vision
# bug: none - NCHW segmentation logits are moved to NHWC with permute(0, 2, 3, 1) before .view(-1, C), the standard correct flattening for per-pixel cross-entropy
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(8)
N_CLASSES = 4
H = W = 16


def make_scene(n):
    img = F.avg_pool2d(torch.rand(n, 1, H, W), 3, 1, 1)
    img = (img - img.amin()) / (img.amax() - img.amin())
    mask = torch.clamp((img * N_CLASSES).long(), max=N_CLASSES - 1).squeeze(1)
    return img, mask


net = nn.Sequential(
    nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(),
    nn.Conv2d(16, 16, 3, padding=1), nn.ReLU(),
    nn.Conv2d(16, N_CLASSES, 1),
)


def pixel_loss(logits, target):
    c = logits.size(1)
    return F.cross_entropy(logits.permute(0, 2, 3, 1).contiguous().view(-1, c), target.view(-1))


images, masks = make_scene(512)
opt = torch.optim.AdamW(net.parameters(), lr=3e-3)
for it in range(200):
    idx = torch.randint(0, 512, (16,))
    logits = net(images[idx])
    loss = pixel_loss(logits, masks[idx])
    opt.zero_grad()
    loss.backward()
    opt.step()
    if it % 40 == 0 or it == 199:
        with torch.no_grad():
            pix_acc = (logits.argmax(1) == masks[idx]).float().mean().item()
        print(f"it {it} loss {loss.item():.4f} pixel acc {pix_acc:.3f}")
