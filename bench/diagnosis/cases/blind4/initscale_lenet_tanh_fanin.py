# source: LeCun et al. "Efficient BackProp" (1998) sec. 4.6 recommends std = fan_in**-1/2; Stack Overflow / d2l.ai forum reports of a hand-written LeNet init that leaves the loss stuck at ln(10)=2.30
# expect: vanishing-gradients
# category: vision
# bug: lecun_init uses std = 1/fan_in instead of 1/sqrt(fan_in); each tanh layer then works in its linear region with gain ~1/sqrt(fan_in) (0.2, 0.08, 0.05, 0.09), so activations and the gradients reaching the conv layers shrink ~1e4x and the loss sits at 2.30
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(1)
np.random.seed(1)

# seven-segment glyph masks for digits 0-9: segments a,b,c,d,e,f,g
SEGMENTS = {
    0: "abcdef", 1: "bc", 2: "abdeg", 3: "abcdg", 4: "bcfg",
    5: "acdfg", 6: "acdefg", 7: "abc", 8: "abcdefg", 9: "abcdfg",
}


def render(digit, rng):
    img = np.zeros((28, 28), np.float32)
    ox, oy = rng.integers(6, 12), rng.integers(3, 7)
    w, h, th = rng.integers(8, 11), rng.integers(8, 10), 2
    seg = {
        "a": (oy, ox, th, w), "d": (oy + 2 * h, ox, th, w), "g": (oy + h, ox, th, w),
        "f": (oy, ox, h, th), "e": (oy + h, ox, h, th),
        "b": (oy, ox + w - th, h, th), "c": (oy + h, ox + w - th, h, th),
    }
    for s in SEGMENTS[digit]:
        r, c, hh, ww = seg[s]
        img[r:r + hh + 1, c:c + ww] = 1.0
    img += rng.normal(0, 0.3, img.shape)
    return img


def make_split(n, seed):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 10, n)
    X = np.stack([render(d, rng) for d in y])[:, None]
    return torch.from_numpy(X), torch.from_numpy(y)


class LeNet5(nn.Module):
    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(1, 6, 5, padding=2)
        self.c3 = nn.Conv2d(6, 16, 5)
        self.f5 = nn.Linear(16 * 5 * 5, 120)
        self.f6 = nn.Linear(120, 84)
        self.out = nn.Linear(84, 10)

    def forward(self, x):
        x = F.avg_pool2d(torch.tanh(self.c1(x)), 2)
        x = F.avg_pool2d(torch.tanh(self.c3(x)), 2)
        x = torch.tanh(self.f5(x.flatten(1)))
        x = torch.tanh(self.f6(x))
        return self.out(x)


def lecun_init(module):
    if isinstance(module, (nn.Conv2d, nn.Linear)):
        fan_in = module.weight[0].numel()
        nn.init.normal_(module.weight, 0.0, 1.0 / fan_in)
        nn.init.zeros_(module.bias)


Xtr, ytr = make_split(3000, 0)
Xte, yte = make_split(1000, 1)
net = LeNet5()
net.apply(lecun_init)
opt = torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.9)
bs = 100
for epoch in range(10):
    perm = torch.randperm(len(Xtr))
    run = 0.0
    for k in range(0, len(Xtr), bs):
        idx = perm[k:k + bs]
        loss = F.cross_entropy(net(Xtr[idx]), ytr[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
        run += loss.item()
    with torch.no_grad():
        acc = (net(Xte).argmax(1) == yte).float().mean().item()
    print(f"epoch {epoch + 1:2d} loss {run / (len(Xtr) // bs):.4f} test_acc {acc:.3f}")
