# source: https://github.com/vturrisi/solo-learn/issues/135
# expect: graph-break, optimizer-params-unused
# category: vision
# bug: the training loop feeds the head backbone(imgs).data, so the conv backbone (in the optimizer) gets no gradient and the keypoint regressor fits on random conv features
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(11)

H = W = 16


def render(n):
    # one small bright square per image; target = its (row, col) centre scaled to [0, 1]
    imgs = 0.1 * torch.randn(n, 1, H, W)
    rc = torch.randint(1, H - 2, (n, 2))
    for i in range(n):
        r, c = rc[i].tolist()
        imgs[i, 0, r - 1:r + 2, c - 1:c + 2] += 1.0
    return imgs, rc.float() / (H - 1)


imgs, targets = render(1200)

backbone = nn.Sequential(
    nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(),
    nn.Conv2d(16, 16, 3, padding=1, stride=2), nn.ReLU(),
    nn.Conv2d(16, 8, 3, padding=1), nn.ReLU(),
    nn.Flatten(), nn.Linear(8 * 8 * 8, 8),
)
head = nn.Sequential(nn.ReLU(), nn.Linear(8, 32), nn.ReLU(), nn.Linear(32, 2))
optimizer = torch.optim.Adam(list(backbone.parameters()) + list(head.parameters()), lr=1e-3)

n_epochs, bs = 6, 32
step = 0
for epoch in range(n_epochs):
    perm = torch.randperm(1000)
    running = 0.0
    for k in range(0, 1000, bs):
        b = perm[k:k + bs]
        feats = backbone(imgs[b])
        preds = head(feats.data)
        loss = F.smooth_l1_loss(preds, targets[b], beta=0.05)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        running += loss.item()
        step += 1
    with torch.no_grad():
        val_err = (head(backbone(imgs[1000:])) - targets[1000:]).abs().mean().item() * (H - 1)
    print(f"epoch {epoch} train loss {running / (1000 // bs + 1):.4f} val pixel error {val_err:.2f}")
