# source: https://github.com/lucidrains/deep-cross-attention/issues/2
# expect: zero-init, dead-relu, symmetric-units
# category: tabular
# bug: every weight is initialised to zero and the layers have no bias in front of ReLU: all hidden activations are exactly 0, ReLU passes no gradient at 0, and nothing but the output bias can ever move
"""Tabular churn classifier with 'clean' zero initialisation."""
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset

torch.manual_seed(0)
rng = np.random.default_rng(0)

N = 3000
tenure = rng.exponential(24, N)
monthly = rng.normal(70, 20, N)
calls = rng.poisson(2, N)
contract = rng.integers(0, 3, N)
X = np.stack([tenure, monthly, calls, contract == 0, contract == 1, contract == 2], 1).astype(np.float32)
X = (X - X.mean(0)) / (X.std(0) + 1e-6)
score = -0.08 * tenure + 0.03 * monthly + 0.6 * calls + 1.5 * (contract == 0) - 1.0
y = (score + rng.normal(0, 1, N) > 0).astype(np.int64)


class ChurnNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.l1 = nn.Linear(6, 32, bias=False)
        self.l2 = nn.Linear(32, 32, bias=False)
        self.head = nn.Linear(32, 2)
        for layer in (self.l1, self.l2, self.head):
            nn.init.zeros_(layer.weight)           # BUG: zero init in front of ReLU

    def forward(self, x):
        return self.head(F.relu(self.l2(F.relu(self.l1(x)))))


model = ChurnNet()
opt = torch.optim.RMSprop(model.parameters(), lr=1e-3)
loader = DataLoader(TensorDataset(torch.from_numpy(X), torch.from_numpy(y)), batch_size=64, shuffle=True)

for epoch in range(8):
    tot, correct = 0.0, 0
    for xb, yb in loader:
        logits = model(xb)
        loss = F.cross_entropy(logits, yb)
        opt.zero_grad()
        loss.backward()
        opt.step()
        tot += loss.item() * len(xb)
        correct += (logits.argmax(1) == yb).sum().item()
    print(f"epoch {epoch}  loss {tot / N:.4f}  acc {correct / N:.3f}  (positive rate {y.mean():.3f})")
