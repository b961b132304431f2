# source: https://github.com/vturrisi/solo-learn/issues/135
# expect: healthy
# category: classification
# bug: mean-teacher semi-supervised training: the consistency target comes from an EMA teacher under no_grad (a deliberate stop-gradient; the teacher is not in the optimizer), the student learns from labels plus consistency
import copy
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(12)

N, D, C = 3000, 16, 4
means = 2.0 * torch.randn(C, D)
labels_all = torch.randint(0, C, (N,))
X = means[labels_all] + torch.randn(N, D)
labelled = torch.arange(N) < 200  # only 200 labelled points

student = nn.Sequential(nn.Linear(D, 64), nn.ReLU(), nn.Dropout(0.1), nn.Linear(64, C))
teacher = copy.deepcopy(student)
for p in teacher.parameters():
    p.requires_grad_(False)

opt = torch.optim.Adam(student.parameters(), lr=2e-3)
ema_decay, w_cons = 0.99, 1.0
Xl, yl = X[labelled], labels_all[labelled]
Xu = X[~labelled]


@torch.no_grad()
def update_teacher():
    for pt, ps in zip(teacher.parameters(), student.parameters()):
        pt.mul_(ema_decay).add_(ps, alpha=1 - ema_decay)


for step in range(300):
    li = torch.randint(0, Xl.size(0), (32,))
    ui = torch.randint(0, Xu.size(0), (96,))
    xl, xu = Xl[li], Xu[ui]
    sup = F.cross_entropy(student(xl + 0.1 * torch.randn_like(xl)), yl[li])
    with torch.no_grad():
        target_probs = F.softmax(teacher(xu + 0.1 * torch.randn_like(xu)), dim=1)
    student_probs = F.softmax(student(xu + 0.1 * torch.randn_like(xu)), dim=1)
    cons = F.mse_loss(student_probs, target_probs)
    loss = sup + w_cons * cons
    opt.zero_grad()
    loss.backward()
    opt.step()
    update_teacher()
    if step % 60 == 0 or step == 299:
        with torch.no_grad():
            acc = (teacher(Xu).argmax(1) == labels_all[~labelled]).float().mean().item()
        print(f"step {step:3d} loss {loss.item():.4f} sup {sup.item():.4f} cons {cons.item():.4f} teacher acc {acc:.3f}")
