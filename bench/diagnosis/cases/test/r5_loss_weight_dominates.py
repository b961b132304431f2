# source: https://github.com/AlliedToasters/dfencoder/issues/4
# expect: loss-imbalance
# category: multi-loss
# bug: the regression term is weighted 1000x to "make it matter" and the learning rate was lowered until training stopped diverging; at that step size the classification term's gradients are a thousand times too small to move anything, so the classifier never leaves chance
"""Two-headed tabular model: price regression + category classification, shared trunk."""
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(0)

N, D, C = 2000, 10, 5
X = torch.randn(N, D)
price = (X[:, :3] @ torch.tensor([1.0, -0.5, 0.25])).unsqueeze(1) + 0.1 * torch.randn(N, 1)
category = (X[:, 3:6] @ torch.randn(3, C)).argmax(1)


class TwoHead(nn.Module):
    def __init__(self):
        super().__init__()
        self.trunk = nn.Sequential(nn.Linear(D, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU())
        self.reg = nn.Linear(64, 1)
        self.cls = nn.Linear(64, C)

    def forward(self, x):
        h = self.trunk(x)
        return self.reg(h), self.cls(h)


model = TwoHead()
W_REG, W_CLS = 1000.0, 1.0                            # BUG: one term outweighs the other 1000:1
opt = torch.optim.SGD(model.parameters(), lr=2e-5, momentum=0.9)   # lowered until it stopped diverging

for epoch in range(12):
    perm = torch.randperm(N)
    s_reg = s_cls = 0.0
    for i in range(0, N, 100):
        idx = perm[i:i + 100]
        p, logits = model(X[idx])
        reg = F.mse_loss(p, price[idx])
        cls = F.cross_entropy(logits, category[idx])
        loss = W_REG * reg + W_CLS * cls
        opt.zero_grad()
        loss.backward()
        opt.step()
        s_reg += reg.item() / 20
        s_cls += cls.item() / 20
    print(f"epoch {epoch:2d}  mse {s_reg:.4f}  ce {s_cls:.4f}  (chance ce {torch.log(torch.tensor(float(C))):.3f})")
