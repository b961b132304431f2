# source: Hinton, Vinyals & Dean 2015, "Distilling the Knowledge in a Neural Network" (arXiv:1503.02531), section 2: soft-target term multiplied by T^2 so its gradient magnitude matches the hard-label term
# expect: healthy
# category: tabular
# bug: none - the KL soft-target term is multiplied by T^2 = 16, which looks like a heavily over-weighted term, but it exactly compensates the 1/T^2 shrinkage of soft-target gradients, so both terms contribute comparably
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import TensorDataset, DataLoader

torch.manual_seed(21)
np.random.seed(21)

N_FEAT, N_CLS = 24, 6


def make_tabular(n, rng, W1, W2):
    x = rng.randn(n, N_FEAT).astype(np.float32)
    h = np.tanh(x @ W1)
    logits = h @ W2 + 0.5 * (x[:, :1] * x[:, 1:2])
    y = (logits + 0.3 * rng.randn(n, N_CLS)).argmax(1)
    return torch.from_numpy(x), torch.from_numpy(y)


rng = np.random.RandomState(0)
W1 = rng.randn(N_FEAT, 32) / np.sqrt(N_FEAT) * 1.5
W2 = rng.randn(32, N_CLS) * 1.2
x_tr, y_tr = make_tabular(8000, rng, W1, W2)
x_te, y_te = make_tabular(2000, rng, W1, W2)
mu, sd = x_tr.mean(0), x_tr.std(0)
x_tr, x_te = (x_tr - mu) / sd, (x_te - mu) / sd
loader = DataLoader(TensorDataset(x_tr, y_tr), batch_size=128, shuffle=True)


def mlp(width, depth):
    layers, d = [], N_FEAT
    for _ in range(depth):
        layers += [nn.Linear(d, width), nn.ReLU()]
        d = width
    return nn.Sequential(*layers, nn.Linear(d, N_CLS))


def accuracy(model):
    model.eval()
    with torch.no_grad():
        return (model(x_te).argmax(1) == y_te).float().mean().item()


class DistillLoss(nn.Module):
    def __init__(self, T=4.0, alpha=0.7):
        super().__init__()
        self.T, self.alpha = T, alpha

    def forward(self, s_logits, t_logits, y):
        soft = F.kl_div(F.log_softmax(s_logits / self.T, dim=1),
                        F.softmax(t_logits / self.T, dim=1),
                        reduction="batchmean") * (self.T * self.T)
        hard = F.cross_entropy(s_logits, y)
        return self.alpha * soft + (1 - self.alpha) * hard, soft, hard


# ---- 1) teacher
teacher = mlp(256, 3)
opt = torch.optim.Adam(teacher.parameters(), lr=1e-3)
for epoch in range(6):
    teacher.train()
    for xb, yb in loader:
        loss = F.cross_entropy(teacher(xb), yb)
        opt.zero_grad(); loss.backward(); opt.step()
    print(f"teacher epoch {epoch}  loss {loss.item():.4f}  test_acc {accuracy(teacher):.3f}")
teacher.eval()

# ---- 2) student distilled from teacher
student = mlp(32, 2)
crit = DistillLoss(T=4.0, alpha=0.7)
opt = torch.optim.Adam(student.parameters(), lr=2e-3)
sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=10 * len(loader))
for epoch in range(10):
    student.train()
    for xb, yb in loader:
        with torch.no_grad():
            t_logits = teacher(xb)
        loss, soft, hard = crit(student(xb), t_logits, yb)
        opt.zero_grad(); loss.backward(); opt.step(); sched.step()
    print(f"student epoch {epoch}  loss {loss.item():.4f}  kd {soft.item():.4f}  ce {hard.item():.4f}  "
          f"test_acc {accuracy(student):.3f}")
