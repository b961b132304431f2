# source: https://github.com/pgniewko/gt-pyg/issues/112
# expect: healthy
# category: classification
# bug: none — distillation from a frozen teacher that is deliberately kept in eval() while only the student is switched to train() each epoch
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(24)
d, k = 16, 5
W = torch.randn(d, k)
X = torch.randn(4000, d)
Y = (X @ W + 0.3 * torch.randn(4000, k)).argmax(1)


def mlp(width, p):
    return nn.Sequential(nn.Linear(d, width), nn.BatchNorm1d(width), nn.ReLU(), nn.Dropout(p), nn.Linear(width, k))


teacher = mlp(256, 0.5)
t_opt = torch.optim.Adam(teacher.parameters(), lr=2e-3)
for step in range(150):
    idx = torch.randint(0, 3000, (128,))
    loss = F.cross_entropy(teacher(X[idx]), Y[idx])
    t_opt.zero_grad(); loss.backward(); t_opt.step()
teacher.eval()
teacher.requires_grad_(False)

student = mlp(32, 0.1)
opt = torch.optim.Adam(student.parameters(), lr=2e-3)
Tmp = 4.0
for epoch in range(8):
    student.train()
    for i in range(0, 3000, 96):
        xb, yb = X[i:i + 96], Y[i:i + 96]
        with torch.no_grad():
            t_logits = teacher(xb)
        s_logits = student(xb)
        kd = F.kl_div(F.log_softmax(s_logits / Tmp, 1), F.softmax(t_logits / Tmp, 1), reduction="batchmean") * Tmp ** 2
        loss = 0.7 * kd + 0.3 * F.cross_entropy(s_logits, yb)
        opt.zero_grad(); loss.backward(); opt.step()
    student.eval()
    with torch.no_grad():
        acc = (student(X[3000:]).argmax(1) == Y[3000:]).float().mean().item()
    print(f"epoch {epoch} loss {loss.item():.4f} student val acc {acc:.3f}")
