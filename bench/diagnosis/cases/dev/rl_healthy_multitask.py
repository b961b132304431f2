# source: https://discuss.pytorch.org/t/multi-task-learning-whats-the-difference-between-jointly-backward-and-backward-with-retain-graph-true/28162
# expect: healthy
# category: multi-loss
# bug: none: shared trunk with a classification head and a regression head on standardized targets, weights 1.0 / 0.5, two backward calls on one graph (retain_graph) accumulating before a single step
"""Multi-task tabular model: churn class + standardized spend, losses backpropagated one after the other."""
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset

torch.manual_seed(10)

n, d = 3000, 10
X = torch.randn(n, d)
churn = ((X[:, 0] * X[:, 1] > 0) ^ (X[:, 2] > 0.5)).long()
spend = 300 + 120 * X[:, 3] + 80 * torch.relu(X[:, 4]) + 20 * torch.randn(n)
spend_z = (spend - spend.mean()) / spend.std()

loader = DataLoader(TensorDataset(X, churn, spend_z), batch_size=64, shuffle=True)


class MultiTask(nn.Module):
    def __init__(self):
        super().__init__()
        self.trunk = nn.Sequential(nn.Linear(d, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU())
        self.cls_head = nn.Linear(64, 2)
        self.reg_head = nn.Linear(64, 1)

    def forward(self, x):
        h = self.trunk(x)
        return self.cls_head(h), self.reg_head(h).squeeze(-1)


model = MultiTask()
opt = torch.optim.Adam(model.parameters(), lr=2e-3)
W_CLS, W_REG = 1.0, 0.5

for epoch in range(12):
    sums = torch.zeros(2)
    for xb, cb, sb in loader:
        logits, spend_pred = model(xb)
        cls_loss = W_CLS * F.cross_entropy(logits, cb)
        reg_loss = W_REG * F.mse_loss(spend_pred, sb)
        opt.zero_grad()
        cls_loss.backward(retain_graph=True)   # gradients accumulate ...
        reg_loss.backward()                    # ... into the same .grad buffers
        opt.step()
        sums += torch.tensor([cls_loss.item(), reg_loss.item()])
    if epoch % 2 == 0 or epoch == 11:
        with torch.no_grad():
            logits, sp = model(X)
            acc = (logits.argmax(1) == churn).float().mean().item()
            r2 = 1 - F.mse_loss(sp, spend_z).item()
        print(f"epoch {epoch:2d}  cls {sums[0] / len(loader):.4f}  reg {sums[1] / len(loader):.4f}  acc {acc:.3f}  r2 {r2:.3f}")
