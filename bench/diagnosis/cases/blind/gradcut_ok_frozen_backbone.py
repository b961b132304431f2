# source: https://github.com/facebookresearch/ParlAI/pull/3215
# expect: healthy
# category: classification
# bug: linear probing: a pretrained CNN backbone is frozen on purpose (requires_grad_(False), features under no_grad) and only the classifier head is given to the optimizer
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(5)


def make_images(n):
    # class = orientation of a bar (horizontal, vertical, two diagonals), plus noise
    imgs = 0.3 * torch.randn(n, 1, 12, 12)
    labels = torch.randint(0, 4, (n,))
    r = torch.arange(12)
    for i in range(n):
        k = labels[i].item()
        off = torch.randint(3, 9, (1,)).item()
        if k == 0:
            imgs[i, 0, off, :] += 1.5
        elif k == 1:
            imgs[i, 0, :, off] += 1.5
        elif k == 2:
            imgs[i, 0, r, r] += 1.5
        else:
            imgs[i, 0, r, 11 - r] += 1.5
    return imgs, labels


backbone = nn.Sequential(
    nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
    nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
)
pre_head = nn.Linear(32, 4)

# "pretraining" stage on the same kind of data
x_pre, y_pre = make_images(1024)
pre_opt = torch.optim.Adam(list(backbone.parameters()) + list(pre_head.parameters()), lr=3e-3)
for step in range(120):
    idx = torch.randint(0, 1024, (64,))
    loss = F.cross_entropy(pre_head(backbone(x_pre[idx])), y_pre[idx])
    pre_opt.zero_grad()
    loss.backward()
    pre_opt.step()
print(f"pretraining done, loss {loss.item():.4f}")

# downstream: freeze the backbone, train a fresh head
backbone.requires_grad_(False)
backbone.eval()
head = nn.Linear(32, 4)
opt = torch.optim.SGD(head.parameters(), lr=0.1, momentum=0.9)
x_tr, y_tr = make_images(1024)
for step in range(200):
    idx = torch.randint(0, 1024, (64,))
    with torch.no_grad():
        feats = backbone(x_tr[idx])
    logits = head(feats)
    loss = F.cross_entropy(logits, y_tr[idx])
    opt.zero_grad()
    loss.backward()
    opt.step()
    if step % 40 == 0 or step == 199:
        acc = (logits.argmax(1) == y_tr[idx]).float().mean().item()
        print(f"probe step {step:3d} loss {loss.item():.4f} acc {acc:.3f}")
