# source: https://github.com/thu-ml/tianshou/issues/397
# expect: log-prob-of-untaken-action
# category: rl
# bug: at update time the policy is re-run and log_prob is taken of a fresh dist.sample(), not of the actions executed in the rollout
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.distributions import Categorical

torch.manual_seed(0)

N_CELLS = 6
MAX_STEPS = 30


KEY = torch.randint(0, 3, (N_CELLS,)).tolist()


class Corridor:
    """A locked corridor: each cell opens only with its own action (0, 1 or 2).
    The right action moves the agent one cell on, a wrong one leaves it where it is."""

    def reset(self):
        self.pos = 0
        self.t = 0
        return self.obs()

    def obs(self):
        o = torch.zeros(N_CELLS)
        o[self.pos] = 1.0
        return o

    def step(self, a):
        self.t += 1
        self.pos = max(0, min(N_CELLS - 1, self.pos + (1 if a == KEY[self.pos] else 0)))
        done = self.pos == N_CELLS - 1 or self.t >= MAX_STEPS
        reward = 1.0 if self.pos == N_CELLS - 1 else -0.05
        return self.obs(), reward, done


class Policy(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(N_CELLS, 32), nn.Tanh(), nn.Linear(32, 3))

    def forward(self, x):
        return self.body(x)


def rollout(env, policy):
    states, actions, rewards = [], [], []
    s = env.reset()
    done = False
    while not done:
        with torch.no_grad():
            a = Categorical(logits=policy(s)).sample().item()
        s2, r, done = env.step(a)
        states.append(s)
        actions.append(a)
        rewards.append(r)
        s = s2
    return states, actions, rewards


def reward_to_go(rewards, gamma=0.99):
    out, g = [], 0.0
    for r in reversed(rewards):
        g = r + gamma * g
        out.append(g)
    out.reverse()
    return torch.tensor(out)


env = Corridor()
policy = Policy()
opt = torch.optim.Adam(policy.parameters(), lr=1e-2)
EPISODES_PER_BATCH = 8

for it in range(150):
    batch_s, batch_a, batch_g, ep_returns = [], [], [], []
    for _ in range(EPISODES_PER_BATCH):
        states, actions, rewards = rollout(env, policy)
        batch_s += states
        batch_a += actions
        batch_g.append(reward_to_go(rewards))
        ep_returns.append(sum(rewards))
    S = torch.stack(batch_s)
    G = torch.cat(batch_g)
    G = (G - G.mean()) / (G.std() + 1e-6)
    dist = Categorical(logits=policy(S))
    logp = dist.log_prob(dist.sample())
    loss = -(logp * G).mean()
    opt.zero_grad()
    loss.backward()
    opt.step()
    if it % 15 == 0 or it == 149:
        avg_ret = sum(ep_returns) / len(ep_returns)
        print(f"iter {it:3d}  loss {loss.item():+.4f}  avg_return {avg_ret:+.3f}  avg_len {len(batch_s) / EPISODES_PER_BATCH:.1f}")
