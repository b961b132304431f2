# source: https://github.com/open-mmlab/mmsegmentation/issues/802
# expect: healthy
# category: multi-loss
# bug: none — a small segmentation CNN with a deep-supervision auxiliary head whose (mean-reduced) loss is weighted 0.4, as in PSPNet/mmseg
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(35)
N, H, W = 600, 16, 16


def scenes(n):
    x = torch.randn(n, 1, H, W) * 0.3
    mask = torch.zeros(n, H, W, dtype=torch.long)
    for i in range(n):
        r, c = torch.randint(2, H - 6, (2,)).tolist()
        s = int(torch.randint(3, 6, (1,)))
        x[i, 0, r:r + s, c:c + s] += 1.5
        mask[i, r:r + s, c:c + s] = 1
    return x, mask


imgs, masks = scenes(N)


class SegNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.stage1 = nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.ReLU())
        self.stage2 = nn.Sequential(nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.Conv2d(32, 32, 3, padding=1), nn.ReLU())
        self.head = nn.Conv2d(32, 2, 1)
        self.aux_head = nn.Conv2d(16, 2, 1)

    def forward(self, x):
        f1 = self.stage1(x)
        f2 = self.stage2(f1)
        return self.head(f2), self.aux_head(f1)


net = SegNet()
opt = torch.optim.Adam(net.parameters(), lr=2e-3)
for step in range(160):
    idx = torch.randint(0, N, (16,))
    out, aux = net(imgs[idx])
    main_loss = F.cross_entropy(out, masks[idx])
    aux_loss = F.cross_entropy(aux, masks[idx])
    loss = main_loss + 0.4 * aux_loss
    opt.zero_grad()
    loss.backward()
    opt.step()
    if step % 20 == 0 or step == 159:
        with torch.no_grad():
            pred = out.argmax(1)
            inter = ((pred == 1) & (masks[idx] == 1)).sum().item()
            union = ((pred == 1) | (masks[idx] == 1)).sum().item()
        print(f"step {step} loss {loss.item():.4f} main {main_loss.item():.4f} aux {aux_loss.item():.4f} IoU {inter / max(union, 1):.3f}")
