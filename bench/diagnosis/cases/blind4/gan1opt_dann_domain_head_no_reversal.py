# source: https://github.com/CuthbertCai/pytorch_DANN/issues/13 and https://github.com/fungtion/DANN/issues/7 (DANN: feature extractor and domain classifier trained with the summed loss; the adversarial sign comes only from the gradient-reversal layer)
# expect: game-shared-optimizer
# category: classification
# bug: DANN.forward feeds the features straight into the domain head with no gradient reversal, and one Adam minimizes class_loss + domain_loss for all parts; the feature extractor now COOPERATES with the domain classifier (domain loss -> ~0.2), making features more domain-specific, so target-domain accuracy stays near chance instead of being adapted
import math
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(0)
np.random.seed(0)


def two_moons(n, noise=0.1):
    h = n // 2
    t1, t2 = np.random.rand(h) * np.pi, np.random.rand(n - h) * np.pi
    a = np.stack([np.cos(t1), np.sin(t1)], 1)
    b = np.stack([1 - np.cos(t2), 0.5 - np.sin(t2)], 1)
    x = np.concatenate([a, b]) + noise * np.random.randn(n, 2) - np.array([0.5, 0.25])
    y = np.concatenate([np.zeros(h), np.ones(n - h)])
    return torch.tensor(x, dtype=torch.float32), torch.tensor(y, dtype=torch.long)


def rotate(x, degrees):
    th = math.radians(degrees)
    R = torch.tensor([[math.cos(th), -math.sin(th)], [math.sin(th), math.cos(th)]])
    return x @ R.T


# source: labelled sensor readings; target: same process, sensor mounted at a different angle (labels unused)
xs, ys = two_moons(2000)
xt, yt = two_moons(2000)
xt = rotate(xt, 50)


class DANN(nn.Module):
    def __init__(self, hidden=64):
        super().__init__()
        self.features = nn.Sequential(nn.Linear(2, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU())
        self.label_head = nn.Linear(hidden, 2)
        self.domain_head = nn.Sequential(nn.Linear(hidden, hidden), nn.ReLU(), nn.Linear(hidden, 1))

    def forward(self, x, alpha=1.0):
        f = self.features(x)
        return self.label_head(f), self.domain_head(f).squeeze(-1)


model = DANN()
optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
ITERS, B = 2000, 128
for it in range(1, ITERS + 1):
    p = it / ITERS
    alpha = 2.0 / (1.0 + math.exp(-10 * p)) - 1.0
    i = torch.randint(0, len(xs), (B,))
    j = torch.randint(0, len(xt), (B,))
    x = torch.cat([xs[i], xt[j]])
    domain = torch.cat([torch.zeros(B), torch.ones(B)])
    class_logits, domain_logits = model(x, alpha)
    class_loss = F.cross_entropy(class_logits[:B], ys[i])
    domain_loss = F.binary_cross_entropy_with_logits(domain_logits, domain)
    loss = class_loss + domain_loss
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    if it % 200 == 0:
        with torch.no_grad():
            src_acc = (model(xs)[0].argmax(1) == ys).float().mean().item()
            tgt_acc = (model(xt)[0].argmax(1) == yt).float().mean().item()
        print(f"iter {it:4d}  class_loss {class_loss.item():.4f}  domain_loss {domain_loss.item():.4f}  "
              f"source acc {src_acc:.3f}  target acc {tgt_acc:.3f}")
