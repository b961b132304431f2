# source: https://github.com/KanishJebaMathewM/Truxify/pull/11885
# expect: loss-sign-flipped
# category: rl
# bug: the policy-gradient loss is written as +log_prob * return (no minus), so the optimizer minimises the expected return
"""REINFORCE on a tiny cart-like linear system: keep the cart near the origin.

State (x, v); action push left / right; v += 0.1 * a, x += 0.1 * v; reward -(x^2 + 0.1 v^2).
"""
import numpy as np
import torch
import torch.nn as nn

torch.manual_seed(0)
rng = np.random.default_rng(0)

HORIZON = 40
GAMMA = 0.97


class Cart:
    def reset(self):
        self.x = rng.uniform(-1.0, 1.0)
        self.v = rng.uniform(-0.3, 0.3)
        return np.array([self.x, self.v], dtype=np.float32)

    def step(self, action):
        force = 1.0 if action == 1 else -1.0
        self.v = float(np.clip(self.v + 0.1 * force, -2.0, 2.0))
        self.x = float(np.clip(self.x + 0.1 * self.v, -3.0, 3.0))
        reward = -(self.x ** 2 + 0.1 * self.v ** 2)
        return np.array([self.x, self.v], dtype=np.float32), reward


policy = nn.Sequential(nn.Linear(2, 32), nn.Tanh(), nn.Linear(32, 2))
optimizer = torch.optim.Adam(policy.parameters(), lr=1e-2)
env = Cart()


def run_episode():
    obs = env.reset()
    log_probs, rewards = [], []
    for _ in range(HORIZON):
        logits = policy(torch.from_numpy(obs))
        dist = torch.distributions.Categorical(logits=logits)
        action = dist.sample()
        log_probs.append(dist.log_prob(action))
        obs, r = env.step(action.item())
        rewards.append(r)
    return torch.stack(log_probs), rewards


def reward_to_go(rewards):
    out, g = [], 0.0
    for r in reversed(rewards):
        g = r + GAMMA * g
        out.append(g)
    out.reverse()
    return torch.tensor(out, dtype=torch.float32)


for it in range(60):
    batch_logp, batch_ret, ep_returns = [], [], []
    for _ in range(8):
        logp, rewards = run_episode()
        batch_logp.append(logp)
        batch_ret.append(reward_to_go(rewards))
        ep_returns.append(sum(rewards))
    logp = torch.cat(batch_logp)
    ret = torch.cat(batch_ret)
    ret = (ret - ret.mean()) / (ret.std() + 1e-8)
    loss = (logp * ret).mean()          # BUG: should be -(logp * ret).mean()
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    if it % 6 == 0 or it == 59:
        print(f"iter {it:3d}  loss {loss.item():+.4f}  mean episode return {np.mean(ep_returns):8.2f}")
