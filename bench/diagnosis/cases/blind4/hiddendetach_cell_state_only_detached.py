# source: https://github.com/salesforce/awd-lstm-lm/issues/91 and https://github.com/LiyuanLucasLiu/LD-Net/issues/6 (what repackage_hidden must detach in an (h, c) LSTM state) - here only part of the state is detached, and at every step
# expect: state-not-detached, graph-break
# category: sequence
# bug: the 2-layer LSTMCell unroll detaches the CELL state c at every time step (h is kept), which removes the constant-error path through c; gradients must squeeze through the gates step by step and vanish, so the activity classifier cannot use the burst that happens in the first few samples of a 20-sample window
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(42)

CH, T, N_CLS = 3, 20, 3


def make_windows(n):
    """Accelerometer-like windows: a short burst on one axis early on (the activity), then background noise."""
    y = torch.randint(0, N_CLS, (n,))
    x = 0.3 * torch.randn(n, T, CH)                        # batch-first, channels-last
    start = torch.randint(0, 5, (n,))
    for k in range(3):
        x[torch.arange(n), start + k, y] += 2.0
    return x, y


class StackedLSTM(nn.Module):
    def __init__(self, hid=32):
        super().__init__()
        self.l1 = nn.LSTMCell(CH, hid)
        self.l2 = nn.LSTMCell(hid, hid)
        self.fc = nn.Linear(hid, N_CLS)
        self.hid = hid

    def forward(self, x):
        B = x.shape[0]
        h1 = c1 = h2 = c2 = torch.zeros(B, self.hid)
        for t in range(x.shape[1]):
            h1, c1 = self.l1(x[:, t], (h1, c1.detach()))
            h2, c2 = self.l2(h1, (h2, c2.detach()))
        return self.fc(h2)


xtr, ytr = make_windows(3072)
xva, yva = make_windows(1024)
model = StackedLSTM()
opt = torch.optim.RMSprop(model.parameters(), lr=5e-3)
sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=8)
for epoch in range(1, 9):
    perm = torch.randperm(len(xtr))
    run = 0.0
    for i in range(0, len(xtr), 128):
        idx = perm[i:i + 128]
        loss = F.cross_entropy(model(xtr[idx]), ytr[idx])
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        run += loss.item()
    sched.step()
    with torch.no_grad():
        acc = (model(xva).argmax(1) == yva).float().mean().item()
    print(f"epoch {epoch:2d}  lr {sched.get_last_lr()[0]:.5f}  train loss {run / (len(xtr) // 128):.4f}  val acc {acc:.3f}")
