# source: https://github.com/openai/phasic-policy-gradient/issues/6
# expect: graph-break
# category: multi-loss
# bug: the second head (value) reads the shared encoder's features through .detach(), so its loss trains only one linear layer on random features and never shapes the encoder
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(32)
n, d = 3000, 16
X = torch.randn(n, d)
act = (X[:, 0] - X[:, 1] > 0).long()                        # which action is right
value = 0.8 * X[:, 2] - 0.6 * X[:, 3] + 0.5 * X[:, 4]


class PolicyValueNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.encoder = nn.Sequential(nn.Linear(d, 64), nn.Tanh(), nn.Linear(64, 8), nn.Tanh())
        self.pi = nn.Linear(8, 2)
        self.v = nn.Linear(8, 1)

    def forward(self, x):
        h = self.encoder(x)
        return self.pi(h), self.v(h.detach()).squeeze(-1)


net = PolicyValueNet()
opt = torch.optim.Adam(net.parameters(), lr=3e-3)
for it in range(350):
    idx = torch.randint(0, n, (128,))
    logits, v = net(X[idx])
    pi_loss = F.cross_entropy(logits, act[idx])
    v_loss = F.mse_loss(v, value[idx])
    loss = pi_loss + 0.5 * v_loss
    opt.zero_grad()
    loss.backward()
    opt.step()
    if it % 35 == 0 or it == 349:
        print(f"iter {it} policy loss {pi_loss.item():.4f} value loss {v_loss.item():.4f} (value var {value.var().item():.3f})")
