# source: https://stats.stackexchange.com/questions/391963/reinforce-calculating-the-log-policy-gradient-for-a-continuous-action-space
# expect: healthy
# category: rl
# bug: healthy; REINFORCE trains the Gaussian log-density of the sampled actions; the policy mean (deterministic action) is used only for a no_grad evaluation
import torch
import torch.nn as nn

torch.manual_seed(18)

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
    logp = d.log_prob(act).sum(-1)
    loss = -(logp * adv).mean()
    optim.zero_grad()
    loss.backward()
    optim.step()
    if i % 30 == 0 or i == 299:
        with torch.no_grad():
            test_obs = torch.randn(256, OBS)
            greedy = policy.dist(test_obs).mean
            eval_reward = -((greedy - test_obs @ A_true) ** 2).sum(-1).mean()
        print(f"iter {i:3d} loss {loss.item():+.4f} avg reward {reward.mean().item():.3f} greedy eval reward {eval_reward.item():.3f}")
