# source: https://github.com/Project-MONAI/MONAI/issues/1102
# expect: targets-displaced
# category: vision
# bug: collate_fn runs the same random-rotation transform separately on each image and on its mask, so each gets its own random number of quarter turns
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader

torch.manual_seed(1)
S, N_CLASSES = 32, 3


def make_scene():
    yy, xx = torch.meshgrid(torch.arange(S), torch.arange(S), indexing="ij")
    label = torch.zeros(S, S, dtype=torch.long)
    cy = int(torch.randint(8, 24, (1,)))
    cx = int(torch.randint(4, 14, (1,)))
    r = int(torch.randint(3, 6, (1,)))
    label[(yy - cy) ** 2 + (xx - cx) ** 2 <= r * r] = 1
    sy, sx = torch.randint(2, 12, (2,)).tolist()
    label[sy:sy + 7, sx + 16:sx + 20] = 2
    image = torch.stack([
        (label == 1).float() * 0.9 + 0.1 * torch.randn(S, S),
        (label == 2).float() * 0.9 + 0.1 * torch.randn(S, S),
        0.2 * torch.randn(S, S),
    ])
    return image, label


def random_rot90(t):
    k = int(torch.randint(0, 4, (1,)))
    return torch.rot90(t, k, dims=(-2, -1))


def collate(samples):
    images = torch.stack([random_rot90(img) for img, _ in samples])
    masks = torch.stack([random_rot90(lab) for _, lab in samples])
    return images, masks


class MiniUNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.enc1 = nn.Sequential(nn.Conv2d(3, 16, 3, padding=1), nn.ReLU())
        self.enc2 = nn.Sequential(nn.Conv2d(16, 32, 3, padding=1), nn.ReLU())
        self.up = nn.ConvTranspose2d(32, 16, 2, stride=2)
        self.dec = nn.Sequential(nn.Conv2d(32, 16, 3, padding=1), nn.ReLU(), nn.Conv2d(16, N_CLASSES, 1))

    def forward(self, x):
        e1 = self.enc1(x)
        e2 = self.enc2(F.max_pool2d(e1, 2))
        return self.dec(torch.cat([self.up(e2), e1], 1))


scenes = [make_scene() for _ in range(640)]
loader = DataLoader(scenes, batch_size=16, shuffle=True, collate_fn=collate)
net = MiniUNet()
optimizer = torch.optim.Adam(net.parameters(), lr=2e-3)


def train(n_epochs):
    it = 0
    for epoch in range(n_epochs):
        losses, hits, px = [], 0, 0
        for images, masks in loader:
            out = net(images)
            loss = F.cross_entropy(out, masks)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
            fg = masks > 0
            hits += (out.argmax(1)[fg] == masks[fg]).sum().item()
            px += fg.sum().item()
            if it % 25 == 0:
                print(f"iter {it} loss {loss.item():.4f}")
            it += 1
        print(f"epoch {epoch} mean loss {sum(losses) / len(losses):.4f} foreground acc {hits / px:.3f}")


train(4)
