# source: https://github.com/albumentations-team/albumentations/issues/397
# expect: healthy
# category: classification
# bug: none: random horizontal flips (and small shifts) are applied to images only, which is right because the stripe-orientation label does not change under a mirror
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import Dataset, DataLoader

torch.manual_seed(0)
S = 16


class Stripes(Dataset):
    """0: horizontal stripes, 1: vertical stripes, 2: diagonal checker; random phase and noise."""

    def __init__(self, n, augment):
        self.labels = torch.randint(0, 3, (n,))
        yy, xx = torch.meshgrid(torch.arange(S).float(), torch.arange(S).float(), indexing="ij")
        period = 2 + 3 * torch.rand(n, 1, 1)
        phase = 6.28 * torch.rand(n, 1, 1)
        horiz = torch.sin(yy / period * 3.14 + phase)
        vert = torch.sin(xx / period * 3.14 + phase)
        diag = horiz * vert
        lab = self.labels.view(n, 1, 1)
        img = torch.where(lab == 0, horiz, torch.where(lab == 1, vert, diag))
        self.images = (img + 0.3 * torch.randn(n, S, S)).unsqueeze(1)
        self.augment = augment

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, i):
        img = self.images[i]
        if self.augment:
            if torch.rand(1).item() < 0.5:
                img = torch.flip(img, dims=[2])
            shift = int(torch.randint(-2, 3, (1,)))
            img = torch.roll(img, shifts=shift, dims=2)
        return img, self.labels[i]


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 16, 3, padding=1)
        self.conv2 = nn.Conv2d(16, 32, 3, padding=1)
        self.bn = nn.BatchNorm2d(32)
        self.fc = nn.Linear(32 * 4 * 4, 3)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.bn(self.conv2(x))), 2)
        return self.fc(x.view(x.size(0), -1))


train_loader = DataLoader(Stripes(1600, augment=True), batch_size=32, shuffle=True)
val_set = Stripes(400, augment=False)
model = Net()
opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)

step = 0
for epoch in range(4):
    model.train()
    for x, y in train_loader:
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % 25 == 0:
            print(f"step {step} loss {loss.item():.4f}")
        step += 1
    model.eval()
    with torch.no_grad():
        acc = (model(val_set.images).argmax(1) == val_set.labels).float().mean().item()
    print(f"epoch {epoch} val acc {acc:.3f}")
