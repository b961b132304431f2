# source: https://github.com/pytorch/pytorch/issues/2421
# expect: nonfinite-backward
# category: classification
# bug: a contrastive loss uses d = sqrt(sum((ea - eb)**2)); positive pairs are drawn with replacement, so some pairs are a sample with itself, d is exactly 0, the sqrt's derivative at 0 is inf and 0 * inf = NaN reaches every weight, although the loss itself is finite
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(4)

N_CLASSES, PER_CLASS, DIM = 10, 30, 20
centers = torch.randn(N_CLASSES, DIM) * 2.0
X = centers.repeat_interleave(PER_CLASS, 0) + torch.randn(N_CLASSES * PER_CLASS, DIM)
labels = torch.arange(N_CLASSES).repeat_interleave(PER_CLASS)


class Embedder(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(DIM, 64)
        self.fc2 = nn.Linear(64, 16)

    def forward(self, x):
        return self.fc2(F.relu(self.fc1(x)))


def sample_pairs(batch_size=64):
    a = torch.randint(0, len(X), (batch_size,))
    same = torch.rand(batch_size) < 0.5
    b = torch.empty_like(a)
    for k in range(batch_size):
        cls = labels[a[k]]
        pool = (labels == cls).nonzero().squeeze(1) if same[k] else (labels != cls).nonzero().squeeze(1)
        b[k] = pool[torch.randint(0, len(pool), (1,))]  # with replacement: may pick a[k] itself
    return a, b, same.float()


def contrastive_loss(ea, eb, same, margin=2.0):
    d = torch.sqrt(((ea - eb) ** 2).sum(dim=1))
    return (same * d.pow(2) + (1 - same) * F.relu(margin - d).pow(2)).mean()


net = Embedder()
opt = torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.9)

for it in range(300):
    a, b, same = sample_pairs()
    loss = contrastive_loss(net(X[a]), net(X[b]), same)
    opt.zero_grad()
    loss.backward()
    opt.step()
    if it < 6 or it % 20 == 0:
        print(f"iter {it:3d}  loss {loss.item():.4f}")
