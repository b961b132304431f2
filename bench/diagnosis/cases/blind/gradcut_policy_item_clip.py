# source: https://github.com/zju-vipa/spot-adaptive-pytorch/issues/1
# expect: graph-break, optimizer-params-unused
# category: rl
# bug: the policy's actions are clipped to the action bounds with Python min/max on .item() and rebuilt with torch.tensor(..., requires_grad=True), so the imitation loss has no path back to the policy weights
import torch
import torch.nn as nn

torch.manual_seed(10)

OBS, ACT = 6, 2
# expert: a fixed nonlinear controller with actions in [-1, 1]
W_exp = torch.randn(OBS, ACT)


def expert(obs):
    return torch.tanh(obs @ W_exp * 0.7)


observations = torch.randn(4000, OBS)
expert_actions = expert(observations)


class Policy(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(OBS, 64), nn.Tanh(), nn.Linear(64, 64), nn.Tanh())
        self.mean = nn.Linear(64, ACT)

    def forward(self, obs):
        return self.mean(self.body(obs))


def act(policy, obs, low=-1.0, high=1.0):
    raw = policy(obs)
    clipped = [[max(low, min(high, v.item())) for v in row] for row in raw]
    return torch.tensor(clipped, requires_grad=True)


policy = Policy()
opt = torch.optim.Adam(policy.parameters(), lr=1e-3)

for it in range(200):
    idx = torch.randint(0, observations.size(0), (64,))
    actions = act(policy, observations[idx])
    loss = ((actions - expert_actions[idx]) ** 2).mean()
    opt.zero_grad()
    loss.backward()
    opt.step()
    if it % 40 == 0 or it == 199:
        print(f"iter {it:3d} bc loss {loss.item():.4f}")
