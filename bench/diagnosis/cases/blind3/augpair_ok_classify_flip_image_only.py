# source: https://github.com/pytorch/vision/issues/9
# expect: healthy
# category: classification
# bug: none - a classifier flips and shifts only the images; the label (which shape is in the picture) does not change under a flip or a shift, so there is nothing to transform on the target side
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import Dataset, DataLoader

torch.manual_seed(12)
S = 16


def draw(kind, g):
    img = 0.1 * torch.randn(1, S, S, generator=g)
    cy, cx = torch.randint(4, S - 4, (2,), generator=g).tolist()
    if kind == 0:    # square
        img[0, cy - 3:cy + 3, cx - 3:cx + 3] += 1.0
    elif kind == 1:  # horizontal bar
        img[0, cy - 1:cy + 1, cx - 4:cx + 4] += 1.0
    else:            # vertical bar
        img[0, cy - 4:cy + 4, cx - 1:cx + 1] += 1.0
    return img


class Shapes(Dataset):
    def __init__(self, n):
        g = torch.Generator().manual_seed(1)
        self.labels = torch.randint(0, 3, (n,), generator=g)
        self.images = [draw(int(k), g) for k in self.labels]

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, i):
        img = self.images[i]
        if torch.rand(1).item() < 0.5:
            img = img.flip(-1)
        if torch.rand(1).item() < 0.5:
            img = img.flip(-2)
        img = torch.roll(img, shifts=int(torch.randint(-2, 3, (1,))), dims=-1)
        return img, self.labels[i]


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 16, 3, padding=1)
        self.conv2 = nn.Conv2d(16, 32, 3, padding=1)
        self.fc = nn.Linear(32, 3)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.relu(self.conv2(x))
        return self.fc(x.mean(dim=(2, 3)))


loader = DataLoader(Shapes(640), batch_size=32, shuffle=True)
net = Net()
opt = torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.9)
step = 0
for epoch in range(10):
    correct = 0
    for x, y in loader:
        out = net(x)
        loss = F.cross_entropy(out, y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        correct += (out.argmax(1) == y).sum().item()
        if step % 50 == 0:
            print(f"step {step} loss {loss.item():.4f}")
        step += 1
    print(f"epoch {epoch} train acc {correct / 640:.3f}")
