# source: https://github.com/lorenmt/minimal-isaac-gym/issues/4 (discussion of GAE when the trajectory buffer is stored newest-first and then reversed)
# expect: healthy
# category: rl
# bug: none - gae() flips the reward/value/done buffers first, so its plain forward loop walks from the LAST step to the first, then flips the result back; advantages sum future TD errors and stay aligned with their steps
import numpy as np
import torch
import torch.nn as nn

torch.manual_seed(2)
np.random.seed(2)

N_ENVS, HORIZON, DT = 32, 40, 0.1


class PointMass:
    def __init__(self, n):
        self.n = n

    def reset(self):
        self.pos = torch.rand(self.n, 2) * 2 - 1
        self.vel = torch.zeros(self.n, 2)
        self.goal = torch.rand(self.n, 2) * 2 - 1
        return self.obs()

    def obs(self):
        return torch.cat([self.pos, self.vel, self.goal - self.pos], 1)

    def step(self, force):
        force = force.clamp(-1, 1)
        self.vel = 0.9 * self.vel + DT * force * 2.0
        self.pos = (self.pos + DT * self.vel).clamp(-1.5, 1.5)
        dist = (self.goal - self.pos).norm(dim=1)
        reward = -dist - 0.01 * force.pow(2).sum(1)
        return self.obs(), reward


class GaussianAC(nn.Module):
    def __init__(self):
        super().__init__()
        self.mu = nn.Sequential(nn.Linear(6, 64), nn.Tanh(), nn.Linear(64, 64), nn.Tanh(), nn.Linear(64, 2))
        self.v = nn.Sequential(nn.Linear(6, 64), nn.Tanh(), nn.Linear(64, 1))
        self.log_std = nn.Parameter(torch.full((2,), -0.5))

    def dist(self, x):
        return torch.distributions.Normal(self.mu(x), self.log_std.exp())

    def value(self, x):
        return self.v(x).squeeze(-1)


def gae(rewards, values, last_value, dones, gamma=0.98, lam=0.95):
    """rewards/values/dones: [T, N]. Works on time-reversed copies."""
    rev_r, rev_v, rev_d = rewards.flip(0), values.flip(0), dones.flip(0)
    next_v = torch.cat([last_value[None], rev_v[:-1]], 0)
    out = torch.zeros_like(rev_r)
    running = torch.zeros_like(last_value)
    for i in range(rev_r.shape[0]):
        nonterminal = 1.0 - rev_d[i]
        delta = rev_r[i] + gamma * next_v[i] * nonterminal - rev_v[i]
        running = delta + gamma * lam * nonterminal * running
        out[i] = running
    adv = out.flip(0)
    return adv, adv + values


env = PointMass(N_ENVS)
model = GaussianAC()
opt = torch.optim.Adam(model.parameters(), lr=1e-3)

for it in range(1, 101):
    obs = env.reset()
    O, A, R, V, D = [], [], [], [], []
    for t in range(HORIZON):
        with torch.no_grad():
            a = model.dist(obs).sample()
            v = model.value(obs)
        nobs, r = env.step(a)
        O.append(obs); A.append(a); R.append(r); V.append(v)
        D.append(torch.full((N_ENVS,), float(t == HORIZON - 1)))
        obs = nobs
    O, A, R, V, D = map(torch.stack, (O, A, R, V, D))
    with torch.no_grad():
        last_v = model.value(obs)
    adv, ret = gae(R, V, last_v, D)
    adv = (adv - adv.mean()) / (adv.std() + 1e-8)

    logp = model.dist(O).log_prob(A).sum(-1)
    v_pred = model.value(O)
    loss = -(logp * adv).mean() + 0.5 * (v_pred - ret).pow(2).mean()
    opt.zero_grad()
    loss.backward()
    nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    opt.step()
    if it % 10 == 0:
        final_dist = (env.goal - env.pos).norm(dim=1).mean().item()
        print(f"iter {it:3d}  loss {loss.item():.4f}  avg reward {R.mean().item():+.3f}  "
              f"final distance {final_dist:.3f}")
