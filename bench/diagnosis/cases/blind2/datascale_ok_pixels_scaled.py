# source: https://github.com/chainer/chainercv/issues/358
# expect: healthy
# category: vision
# bug: healthy - images are stored as uint8 0-255 but the Dataset converts them to [0, 1] and standardises with the training mean/std before the CNN
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import Dataset, DataLoader

torch.manual_seed(15)

templates = (torch.rand(6, 3, 10, 10) > 0.55).float()
labels = torch.randint(0, 6, (1800,))
raw = (templates[labels] * 170 + torch.rand(1800, 3, 10, 10) * 85).clamp(0, 255).to(torch.uint8)


class PatchDataset(Dataset):
    def __init__(self, images, targets):
        self.images, self.targets = images, targets
        as_float = images.float() / 255.0
        self.mean = as_float.mean(dim=(0, 2, 3), keepdim=True)[0]
        self.std = as_float.std(dim=(0, 2, 3), keepdim=True)[0]

    def __len__(self):
        return len(self.images)

    def __getitem__(self, i):
        x = self.images[i].float() / 255.0
        return (x - self.mean) / self.std, self.targets[i]


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 16, 3, padding=1)
        self.conv2 = nn.Conv2d(16, 32, 3, padding=1)
        self.fc = nn.Linear(32 * 2 * 2, 6)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        return self.fc(x.flatten(1))


loader = DataLoader(PatchDataset(raw, labels), batch_size=48, shuffle=True)
net = Net()
opt = torch.optim.SGD(net.parameters(), lr=0.02, momentum=0.9)

for epoch in range(7):
    tot, correct, seen = 0.0, 0, 0
    for x, y in loader:
        out = net(x)
        loss = F.cross_entropy(out, y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        tot += loss.item() * len(y)
        correct += (out.argmax(1) == y).sum().item()
        seen += len(y)
    print(f"epoch {epoch} loss {tot / seen:.4f} acc {correct / seen:.3f}")
