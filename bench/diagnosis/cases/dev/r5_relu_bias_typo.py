# source: https://github.com/facebookresearch/dlrm/pull/358
# expect: dead-relu, vanishing-gradients
# category: regression
# bug: a custom init sets every hidden bias to -1e2 (meant 1e-2), so every ReLU pre-activation is far below zero, no unit ever fires and no gradient reaches the hidden layers
"""House-price style regression MLP with a custom weight init."""
import torch
import torch.nn as nn

torch.manual_seed(0)

N, D = 1500, 8
X = torch.randn(N, D)
y = (X[:, 0] * 2.0 - X[:, 1] + torch.sin(2 * X[:, 2]) + 0.5 * X[:, 3] * X[:, 4] + 0.1 * torch.randn(N)).unsqueeze(1)


class PriceNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(D, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU())
        self.body.apply(self.init_weights)
        self.out = nn.Linear(64, 1)

    @staticmethod
    def init_weights(m):
        if isinstance(m, nn.Linear):
            nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
            nn.init.constant_(m.bias, -1e2)      # BUG: meant 1e-2

    def forward(self, x):
        return self.out(self.body(x))


model = PriceNet()
opt = torch.optim.Adam(model.parameters(), lr=1e-3)
loss_fn = nn.MSELoss()

for epoch in range(15):
    perm = torch.randperm(N)
    tot = 0.0
    for i in range(0, N, 50):
        idx = perm[i:i + 50]
        loss = loss_fn(model(X[idx]), y[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
        tot += loss.item() * len(idx)
    if epoch % 2 == 0 or epoch == 14:
        print(f"epoch {epoch:2d}  mse {tot / N:.4f}   (target variance {y.var().item():.3f})")
