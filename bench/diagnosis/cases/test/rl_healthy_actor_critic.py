# source: https://github.com/pytorch/examples/blob/main/reinforcement_learning/actor_critic.py
# expect: healthy
# category: rl
# bug: none: actor-critic with a shared trunk, the advantage detached before the policy term, value loss weighted 0.5, a small entropy bonus
"""Advantage actor-critic (shared trunk, two heads) on a cart-like linear system."""
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(5)
rng = np.random.default_rng(5)

HORIZON, GAMMA = 40, 0.97


class Cart:
    def reset(self):
        self.x, self.v = rng.uniform(-1, 1), rng.uniform(-0.3, 0.3)
        return torch.tensor([self.x, self.v], dtype=torch.float32)

    def step(self, a):
        self.v = float(np.clip(self.v + 0.1 * (a - 1), -2, 2))     # actions 0, 1, 2 = push -1, 0, +1
        self.x = float(np.clip(self.x + 0.1 * self.v, -3, 3))
        return torch.tensor([self.x, self.v], dtype=torch.float32), -(self.x ** 2 + 0.1 * self.v ** 2)


class ActorCritic(nn.Module):
    def __init__(self):
        super().__init__()
        self.trunk = nn.Sequential(nn.Linear(2, 64), nn.Tanh())
        self.pi = nn.Linear(64, 3)
        self.v = nn.Linear(64, 1)

    def forward(self, s):
        h = self.trunk(s)
        return self.pi(h), self.v(h).squeeze(-1)


env = Cart()
net = ActorCritic()
opt = torch.optim.Adam(net.parameters(), lr=3e-3)

for it in range(75):
    states, actions, rets, ep_returns = [], [], [], []
    for _ in range(8):
        s = env.reset()
        rewards = []
        for _ in range(HORIZON):
            with torch.no_grad():
                logits, _ = net(s)
            a = torch.distributions.Categorical(logits=logits).sample().item()
            states.append(s)
            actions.append(a)
            s, r = env.step(a)
            rewards.append(r)
        g, out = 0.0, []
        for r in reversed(rewards):
            g = r + GAMMA * g
            out.append(g)
        rets += out[::-1]
        ep_returns.append(sum(rewards))
    S = torch.stack(states)
    A = torch.tensor(actions)
    R = torch.tensor(rets, dtype=torch.float32)
    logits, values = net(S)
    logp = torch.distributions.Categorical(logits=logits).log_prob(A)
    advantage = (R - values).detach()
    advantage = (advantage - advantage.mean()) / (advantage.std() + 1e-8)
    actor_loss = -(logp * advantage).mean()
    critic_loss = F.mse_loss(values, R)
    entropy = torch.distributions.Categorical(logits=logits).entropy().mean()
    loss = actor_loss + 0.5 * critic_loss - 0.01 * entropy
    opt.zero_grad()
    loss.backward()
    opt.step()
    if it % 8 == 0 or it == 74:
        print(f"iter {it:3d}  loss {loss.item():8.3f}  critic {critic_loss.item():8.3f}  mean episode return {np.mean(ep_returns):8.2f}")
