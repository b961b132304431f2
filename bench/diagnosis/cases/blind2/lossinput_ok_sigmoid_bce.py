# source: https://github.com/Lightning-AI/pytorch-lightning/pull/7096
# expect: healthy
# category: vision
# bug: none; a multi-label CNN whose forward ends in torch.sigmoid is trained with F.binary_cross_entropy (probabilities into the probability loss)
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(6)

N_LABELS = 5
# each label is a small pattern stamped at a random place in an 14x14 image
patterns = torch.randn(N_LABELS, 4, 4)


def make_images(n):
    x = 0.3 * torch.randn(n, 1, 14, 14)
    y = (torch.rand(n, N_LABELS) < 0.4).float()
    for i in range(n):
        for k in range(N_LABELS):
            if y[i, k] > 0:
                r, c = torch.randint(0, 10, (2,)).tolist()
                x[i, 0, r:r + 4, c:c + 4] += patterns[k]
    return x, y


x_all, y_all = make_images(1200)


class TagNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 16, 3, padding=1)
        self.conv2 = nn.Conv2d(16, 32, 3, padding=1)
        self.fc = nn.Linear(32, N_LABELS)

    def forward(self, x):
        x = F.relu(self.conv1(x))
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = x.amax(dim=(2, 3))
        return torch.sigmoid(self.fc(x))


net = TagNet()
opt = torch.optim.Adam(net.parameters(), lr=3e-3)

for epoch in range(5):
    perm = torch.randperm(len(x_all))
    for b, i in enumerate(range(0, len(x_all), 40)):
        idx = perm[i:i + 40]
        probs = net(x_all[idx])
        loss = F.binary_cross_entropy(probs, y_all[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
        if b % 10 == 0:
            print(f"epoch {epoch} batch {b:2d}  bce {loss.item():.4f}")
    with torch.no_grad():
        acc = ((net(x_all) > 0.5).float() == y_all).float().mean().item()
    print(f"epoch {epoch}  label accuracy {acc:.3f}")
