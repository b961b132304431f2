# source: https://github.com/pytorch/examples/blob/main/reinforcement_learning/reinforce.py
# expect: healthy
# category: rl
# bug: none: REINFORCE with reward-to-go computed backwards, returns normalized per batch, loss -log_prob * return
"""REINFORCE on a 1-D corridor (start at 0, goal at the last cell), done right."""
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(1)
np.random.seed(1)

N_CELLS, MAX_STEPS, GAMMA = 10, 40, 0.95


class Corridor:
    def reset(self):
        self.pos, self.t = 0, 0
        return F.one_hot(torch.tensor(self.pos), N_CELLS).float()

    def step(self, a):
        self.t += 1
        self.pos = min(max(self.pos + (1 if a == 1 else -1), 0), N_CELLS - 1)
        at_goal = self.pos == N_CELLS - 1
        obs = F.one_hot(torch.tensor(self.pos), N_CELLS).float()
        return obs, (1.0 if at_goal else 0.0), at_goal or self.t >= MAX_STEPS


class Agent(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(N_CELLS, 64), nn.ReLU(), nn.Linear(64, 2))
        self.saved_log_probs, self.rewards = [], []

    def act(self, obs):
        dist = torch.distributions.Categorical(logits=self.net(obs))
        a = dist.sample()
        self.saved_log_probs.append(dist.log_prob(a))
        return a.item()


env = Corridor()
agent = Agent()
optimizer = torch.optim.Adam(agent.parameters(), lr=5e-3)

for batch in range(120):
    returns, lengths, successes = [], [], 0
    for _ in range(10):
        obs, done = env.reset(), False
        ep_rewards = []
        while not done:
            obs, r, done = env.step(agent.act(obs))
            ep_rewards.append(r)
        g, ep_returns = 0.0, []
        for r in reversed(ep_rewards):
            g = r + GAMMA * g
            ep_returns.insert(0, g)
        returns += ep_returns
        lengths.append(len(ep_rewards))
        successes += env.pos == N_CELLS - 1
    returns = torch.tensor(returns)
    returns = (returns - returns.mean()) / (returns.std() + 1e-8)
    loss = -(torch.stack(agent.saved_log_probs) * returns).sum() / 10
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    agent.saved_log_probs.clear()
    if batch % 10 == 0 or batch == 119:
        print(f"batch {batch:3d}  loss {loss.item():+.3f}  success {successes}/10  mean length {np.mean(lengths):.1f}")
