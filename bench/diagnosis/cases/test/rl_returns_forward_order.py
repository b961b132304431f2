# source: https://github.com/mohmdelsayed/streaming-drl/issues/3
# expect: returns-misaligned
# category: rl
# bug: the "return" of each step is accumulated forward in time (discounted sum of PAST rewards) instead of the reward-to-go, so each action is credited with costs it could not have caused
"""REINFORCE on a cart-like linear system; each step costs x^2 + 0.1 v^2 of the state the action is taken in."""
import numpy as np
import torch
import torch.nn as nn

torch.manual_seed(1)
rng = np.random.default_rng(1)

HORIZON = 40
GAMMA = 0.95


class CartEnv:
    def reset(self):
        self.x, self.v = rng.uniform(-1.0, 1.0), rng.uniform(-0.3, 0.3)
        return self._obs()

    def _obs(self):
        return torch.tensor([self.x, self.v], dtype=torch.float32)

    def step(self, a):
        cost = self.x ** 2 + 0.1 * self.v ** 2          # cost of the current state
        self.v = float(np.clip(self.v + (0.1 if a == 1 else -0.1), -2, 2))
        self.x = float(np.clip(self.x + 0.1 * self.v, -3, 3))
        return self._obs(), -cost


class Policy(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(2, 32), nn.Tanh(), nn.Linear(32, 2))

    def forward(self, x):
        return self.body(x)


def discounted_returns(rewards, gamma):
    # BUG: runs forward, so G_t = r_t + gamma * G_{t-1} (the past), not r_t + gamma * G_{t+1}
    returns, running = [], 0.0
    for r in rewards:
        running = r + gamma * running
        returns.append(running)
    return returns


env = CartEnv()
policy = Policy()
opt = torch.optim.Adam(policy.parameters(), lr=1e-2)

for it in range(50):
    all_logp, all_ret, ep_returns = [], [], []
    for _ in range(8):
        obs = env.reset()
        logps, rewards = [], []
        for _ in range(HORIZON):
            dist = torch.distributions.Categorical(logits=policy(obs))
            a = dist.sample()
            logps.append(dist.log_prob(a))
            obs, r = env.step(a.item())
            rewards.append(r)
        all_logp += logps
        all_ret += discounted_returns(rewards, GAMMA)
        ep_returns.append(sum(rewards))
    ret = torch.tensor(all_ret)
    ret = (ret - ret.mean()) / (ret.std() + 1e-8)
    loss = -(torch.stack(all_logp) * ret).mean()
    opt.zero_grad()
    loss.backward()
    opt.step()
    if it % 5 == 0 or it == 49:
        print(f"iter {it:3d}  loss {loss.item():+.4f}  mean episode return {np.mean(ep_returns):8.2f}")
