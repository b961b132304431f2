# source: https://github.com/locuslab/TCN/issues/8
# expect: causal-leak, label-leakage
# category: sequence
# bug: the causal conv pads k-1 on both sides and then chomps the first k-1 outputs instead of the last, so each output covers inputs t..t+k-1 (the future) in a next-char model
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(11)
V, T, B = 12, 48, 20
K = 3

base = torch.randint(0, V, (400, T + 1))
# next symbol = (prev + prev2) mod V in 70% of the positions
for t in range(2, T + 1):
    m = torch.rand(400) < 0.7
    base[:, t] = torch.where(m, (base[:, t - 1] + base[:, t - 2]) % V, base[:, t])
inputs, targets = base[:, :-1], base[:, 1:]


class CausalConv(nn.Module):
    def __init__(self, cin, cout, k, dilation):
        super().__init__()
        self.pad = (k - 1) * dilation
        self.conv = nn.Conv1d(cin, cout, k, padding=self.pad, dilation=dilation)

    def forward(self, x):
        y = self.conv(x)
        return y[:, :, self.pad:]


class TCN(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(V, 32)
        self.c1 = CausalConv(32, 64, K, 1)
        self.c2 = CausalConv(64, 64, K, 2)
        self.out = nn.Conv1d(64, V, 1)

    def forward(self, x):
        h = self.emb(x).transpose(1, 2)     # (B, C, T)
        h = F.relu(self.c1(h))
        h = F.relu(self.c2(h)) + h
        return self.out(h)                  # (B, V, T)


net = TCN()
opt = torch.optim.RMSprop(net.parameters(), lr=1e-3)
for step in range(300):
    idx = torch.randint(0, 400, (B,))
    logits = net(inputs[idx])
    loss = F.cross_entropy(logits, targets[idx])
    opt.zero_grad()
    loss.backward()
    opt.step()
    if step % 60 == 0 or step == 299:
        print(f"{step} loss={loss.item():.3f}")
