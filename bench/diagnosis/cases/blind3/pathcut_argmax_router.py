# source: https://github.com/LZGMatrix/BOP19_CDPN_2019ICCV/issues/4
# expect: graph-break
# category: regression
# bug: a gating network picks a regime with argmax and the regime embedding is fed to the regressor as a feature; argmax has no gradient, so the gate never learns which regime a sample is in
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(3)

# piecewise target: the regime is decided by the sign pattern of two inputs
N = 4000
X = torch.randn(N, 8)
regime = (X[:, 0] > 0).long() * 2 + (X[:, 1] > 0).long()
slopes = torch.tensor([[2.0, -1.0], [-2.0, 0.5], [1.0, 2.0], [-0.5, -2.0]])
offsets = torch.tensor([3.0, -3.0, 1.0, -1.0])
Y = (slopes[regime] * X[:, 2:4]).sum(1) + offsets[regime]


class GatedRegressor(nn.Module):
    def __init__(self, n_regimes=4):
        super().__init__()
        self.gate = nn.Sequential(nn.Linear(8, 32), nn.Tanh(), nn.Linear(32, n_regimes))
        self.regime_emb = nn.Embedding(n_regimes, 8)
        self.body = nn.Sequential(nn.Linear(8 + 8, 64), nn.ReLU(), nn.Linear(64, 1))

    def forward(self, x):
        which = self.gate(x).argmax(dim=-1)
        feats = torch.cat([x[:, 2:4].repeat(1, 4), self.regime_emb(which)], dim=-1)
        return self.body(feats).squeeze(-1)


def train_one_epoch(model, opt, bs=100):
    perm = torch.randperm(N)
    losses = []
    for i in range(0, N, bs):
        idx = perm[i:i + bs]
        loss = F.mse_loss(model(X[idx]), Y[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return sum(losses) / len(losses)


model = GatedRegressor()
opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
for epoch in range(8):
    print(f"epoch {epoch}  train mse {train_one_epoch(model, opt):.4f}")
