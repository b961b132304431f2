# source: https://github.com/fastai/fastai/issues/1806
# expect: over-regularization
# category: vision
# bug: weight_decay=0.5 given to torch.optim.Adam (coupled L2); the decay term outweighs the data gradient, the weights collapse toward zero and the net stays at chance
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import TensorDataset, DataLoader

torch.manual_seed(19)

# 8 texture classes, 16x16 RGB: oriented stripes at different frequencies
def textures(n):
    y = torch.randint(0, 8, (n,))
    xs = torch.arange(16).float()
    gy, gx = torch.meshgrid(xs, xs, indexing="ij")
    angle = (y % 4).float() * 0.785
    freq = torch.where(y < 4, 0.5, 1.1)
    proj = gx[None] * torch.cos(angle)[:, None, None] + gy[None] * torch.sin(angle)[:, None, None]
    img = torch.sin(freq[:, None, None] * proj + 6.28 * torch.rand(n, 1, 1))
    img = img[:, None].repeat(1, 3, 1, 1) + 1.5 * torch.randn(n, 3, 16, 16)
    return img, y


x_train, y_train = textures(2400)
x_val, y_val = textures(400)


class TextureNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.block1 = nn.Sequential(nn.Conv2d(3, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2))
        self.block2 = nn.Sequential(nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2))
        self.classifier = nn.Linear(32 * 4 * 4, 8)

    def forward(self, x):
        return self.classifier(self.block2(self.block1(x)).flatten(1))


model = TextureNet()
optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, weight_decay=0.5)
loader = DataLoader(TensorDataset(x_train, y_train), batch_size=64, shuffle=True)

for epoch in range(8):
    model.train()
    running = 0.0
    for xb, yb in loader:
        loss = F.cross_entropy(model(xb), yb)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        running += loss.item() * len(yb)
    model.eval()
    with torch.no_grad():
        acc = (model(x_val).argmax(1) == y_val).float().mean().item()
    print(f"epoch {epoch} train loss {running / len(x_train):.4f} val acc {acc:.3f}")
