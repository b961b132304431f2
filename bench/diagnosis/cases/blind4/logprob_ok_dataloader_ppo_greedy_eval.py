# source: https://github.com/ikostrikov/pytorch-a2c-ppo-acktr-gail/issues/284 (PPO re-evaluates log-probs of the STORED actions under the current policy; old log-probs kept without grad)
# expect: healthy
# category: rl
# bug: none - actions are sampled under no_grad for acting, stored, and the update recomputes log pi(stored action | stored obs) from a TensorDataset whose DataLoader shuffles all columns together; the argmax is only used for separate greedy evaluation episodes
import numpy as np
import torch
import torch.nn as nn
from torch.utils.data import DataLoader, TensorDataset

torch.manual_seed(17)
np.random.seed(17)


class LaneKeeping:
    """Car drifts sideways under a random crosswind; steer left / straight / right."""

    def __init__(self, n, horizon=50):
        self.n, self.h = n, horizon

    def reset(self):
        self.y = np.random.uniform(-1, 1, self.n)
        self.vy = np.zeros(self.n)
        self.wind = np.random.uniform(-0.05, 0.05, self.n)
        self.t = 0
        return self._obs()

    def _obs(self):
        return np.stack([self.y, self.vy * 5, self.wind * 20], 1).astype(np.float32)

    def step(self, a):
        steer = (a - 1) * 0.04
        self.vy = 0.8 * self.vy + steer + self.wind
        self.y = np.clip(self.y + self.vy, -2, 2)
        self.t += 1
        r = (1.0 - np.abs(self.y)).astype(np.float32)
        return self._obs(), r, self.t >= self.h


class Policy(nn.Module):
    def __init__(self):
        super().__init__()
        self.pi = nn.Sequential(nn.Linear(3, 64), nn.Tanh(), nn.Linear(64, 3))
        self.v = nn.Sequential(nn.Linear(3, 64), nn.Tanh(), nn.Linear(64, 1))

    def dist(self, x):
        return torch.distributions.Categorical(logits=self.pi(x))


def greedy_eval(policy, episodes=32):
    env = LaneKeeping(episodes)
    obs, done, total = env.reset(), False, 0.0
    while not done:
        with torch.no_grad():
            a = policy.pi(torch.from_numpy(obs)).argmax(-1)
        obs, r, done = env.step(a.numpy())
        total += r.mean()
    return total


policy = Policy()
opt = torch.optim.Adam(policy.parameters(), lr=1e-3)
env = LaneKeeping(32)
gamma, lam = 0.95, 0.9
for it in range(1, 21):
    obs = env.reset()
    O, A, LP, R, V = [], [], [], [], []
    done = False
    while not done:
        x = torch.from_numpy(obs)
        with torch.no_grad():
            d = policy.dist(x)
            a = d.sample()
            v = policy.v(x).squeeze(-1)
        obs, r, done = env.step(a.numpy())
        O.append(x); A.append(a); LP.append(d.log_prob(a)); R.append(torch.from_numpy(r)); V.append(v)
    O, A, LP, R, V = map(torch.stack, (O, A, LP, R, V))
    adv = torch.zeros_like(R); run = torch.zeros(R.shape[1])
    for t in reversed(range(R.shape[0])):
        nv = V[t + 1] if t + 1 < R.shape[0] else torch.zeros_like(V[t])
        run = R[t] + gamma * nv - V[t] + gamma * lam * run
        adv[t] = run
    ret = adv + V
    ds = TensorDataset(O.flatten(0, 1), A.flatten(), LP.flatten(), adv.flatten(), ret.flatten())
    loader = DataLoader(ds, batch_size=200, shuffle=True)
    for epoch in range(4):
        for o, a, old_lp, ad, rt in loader:
            ad = (ad - ad.mean()) / (ad.std() + 1e-8)
            d = policy.dist(o)
            ratio = (d.log_prob(a) - old_lp).exp()
            pl = -torch.min(ratio * ad, ratio.clamp(0.8, 1.2) * ad).mean()
            vl = (policy.v(o).squeeze(-1) - rt).pow(2).mean()
            loss = pl + 0.5 * vl - 0.01 * d.entropy().mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
    if it % 2 == 0:
        print(f"iter {it:3d}  loss {loss.item():.4f}  train return {R.sum(0).mean().item():6.2f}  "
              f"greedy eval return {greedy_eval(policy):6.2f}")
