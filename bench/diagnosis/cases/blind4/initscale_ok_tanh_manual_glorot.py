# source: Glorot & Bengio (AISTATS 2010) normalised init with the tanh gain of torch.nn.init.calculate_gain('tanh')=5/3; hand-rolled init pattern from Stack Overflow "How to initialize weights in PyTorch?" (https://stackoverflow.com/questions/49433936)
# expect: healthy
# category: regression
# bug: none - the hand-written normal init uses std = gain*sqrt(2/(fan_in+fan_out)) with the tanh gain, which keeps tanh pre-activations around unit scale (no saturation, no vanishing)
import math

import numpy as np
import torch
import torch.nn as nn

torch.manual_seed(31)
np.random.seed(31)


def expert_policy(s):
    """LQR-like expert for a cart-pole style system: action = -K s, squashed."""
    K = np.array([-1.0, -1.6, 18.0, 3.0])
    return np.tanh((-(s @ K)) / 6.0) * 1.0 + 0.15 * np.sin(3 * s[:, 2])


def collect(n, rng):
    s = rng.normal(0, [1.0, 1.0, 0.25, 0.6], size=(n, 4))
    a = expert_policy(s) + rng.normal(0, 0.02, n)
    return s.astype(np.float32), a.astype(np.float32)[:, None]


class PolicyMLP(nn.Module):
    def __init__(self, sizes=(4, 128, 128, 128, 1)):
        super().__init__()
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:]))
        self.reset_parameters()

    def reset_parameters(self):
        gain = nn.init.calculate_gain("tanh")
        for lin in self.layers:
            fan_out, fan_in = lin.weight.shape
            std = gain * math.sqrt(2.0 / (fan_in + fan_out))
            with torch.no_grad():
                lin.weight.normal_(0.0, std)
                lin.bias.zero_()

    def forward(self, s):
        h = s
        for lin in self.layers[:-1]:
            h = torch.tanh(lin(h))
        return self.layers[-1](h)


rng = np.random.default_rng(31)
S, A = collect(20000, rng)
Sv, Av = collect(4000, rng)
S, A, Sv, Av = map(torch.from_numpy, (S, A, Sv, Av))
policy = PolicyMLP()
opt = torch.optim.Adam(policy.parameters(), lr=1e-3)
sched = torch.optim.lr_scheduler.StepLR(opt, step_size=600, gamma=0.3)
with torch.no_grad():
    print(f"initial val mse {nn.functional.mse_loss(policy(Sv), Av).item():.4f}  (action var {Av.var().item():.4f})")
for it in range(1, 1501):
    idx = torch.randint(0, len(S), (128,))
    loss = nn.functional.mse_loss(policy(S[idx]), A[idx])
    opt.zero_grad()
    loss.backward()
    opt.step()
    sched.step()
    if it % 150 == 0:
        with torch.no_grad():
            v = nn.functional.mse_loss(policy(Sv), Av).item()
        print(f"iter {it:4d} bc_loss {loss.item():.5f} val_mse {v:.5f}")
