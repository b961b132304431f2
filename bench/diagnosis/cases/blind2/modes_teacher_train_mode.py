# source: https://github.com/pgniewko/gt-pyg/issues/112
# expect: teacher-in-train-mode
# category: classification
# bug: the frozen distillation teacher (BatchNorm + dropout) is put in eval() once, but the epoch loop calls .train() on a wrapper holding both nets, so its soft targets come from dropout-noised forward passes normalised with the statistics of small, file-ordered batches
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(23)
d, k = 16, 5
W = torch.randn(d, k)
X = torch.randn(4000, d)
Y = (X @ W + 0.3 * torch.randn(4000, k)).argmax(1)


def mlp(width, p):
    return nn.Sequential(nn.Linear(d, width), nn.BatchNorm1d(width), nn.ReLU(), nn.Dropout(p), nn.Linear(width, k))


# pretrain the teacher
teacher = mlp(64, 0.5)
t_opt = torch.optim.Adam(teacher.parameters(), lr=2e-3)
for step in range(150):
    idx = torch.randint(0, 3000, (128,))
    loss = F.cross_entropy(teacher(X[idx]), Y[idx])
    t_opt.zero_grad(); loss.backward(); t_opt.step()
teacher.eval()
for p in teacher.parameters():
    p.requires_grad_(False)
with torch.no_grad():
    print("teacher val acc", (teacher(X[3000:]).argmax(1) == Y[3000:]).float().mean().item())


class Distiller(nn.Module):
    def __init__(self, teacher, student):
        super().__init__()
        self.teacher = teacher
        self.student = student


# unlabeled transfer pool, read in file order (the log is sorted by its first sensor)
pool = X[:3000][torch.argsort(X[:3000, 0])]

student = nn.Sequential(nn.Linear(d, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, k))
system = Distiller(teacher, student)
opt = torch.optim.Adam(student.parameters(), lr=2e-3)
Tmp = 4.0
step = 0
for epoch in range(4):
    system.train()
    for i in torch.randperm(250).tolist():
        i = i * 12
        xb = pool[i:i + 12]
        with torch.no_grad():
            soft = F.softmax(system.teacher(xb) / Tmp, dim=1)
        logp = F.log_softmax(system.student(xb) / Tmp, dim=1)
        loss = F.kl_div(logp, soft, reduction="batchmean") * Tmp * Tmp
        opt.zero_grad(); loss.backward(); opt.step()
        step += 1
    system.eval()
    with torch.no_grad():
        acc = (student(X[3000:]).argmax(1) == Y[3000:]).float().mean().item()
        t_acc = (teacher(X[3000:]).argmax(1) == Y[3000:]).float().mean().item()
    print(f"epoch {epoch} distill loss {loss.item():.4f} student val acc {acc:.3f} teacher val acc {t_acc:.3f}")
