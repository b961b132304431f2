# source: https://ai.stackexchange.com/questions/23847/what-is-the-loss-for-policy-gradients-with-continuous-actions
# expect: log-prob-of-untaken-action
# category: rl
# bug: continuous-action REINFORCE evaluates the Gaussian log-density at the policy mean instead of at the sampled action that earned the reward
import torch
import torch.nn as nn

torch.manual_seed(8)

OBS, ACT = 4, 2
A_true = torch.randn(OBS, ACT) * 0.8


class GaussianPolicy(nn.Module):
    def __init__(self):
        super().__init__()
        self.mu = nn.Sequential(nn.Linear(OBS, 32), nn.Tanh(), nn.Linear(32, ACT))
        self.log_std = nn.Parameter(torch.zeros(ACT))

    def dist(self, obs):
        return torch.distributions.Normal(self.mu(obs), self.log_std.exp())


def run_batch(policy, n=64):
    obs = torch.randn(n, OBS)
    d = policy.dist(obs)
    act = d.sample()
    reward = -((act - obs @ A_true) ** 2).sum(-1)
    return obs, d, act, reward


policy = GaussianPolicy()
optim = torch.optim.SGD(policy.parameters(), lr=0.003, momentum=0.9)

for i in range(300):
    obs, d, act, reward = run_batch(policy)
    adv = (reward - reward.mean()) / (reward.std() + 1e-6)
    logp = d.log_prob(d.mean).sum(-1)
    loss = -(logp * adv).mean()
    optim.zero_grad()
    loss.backward()
    optim.step()
    if i % 30 == 0 or i == 299:
        print(f"iter {i:3d} loss {loss.item():+.4f} avg reward {reward.mean().item():.3f} std {policy.log_std.exp().mean().item():.3f}")
