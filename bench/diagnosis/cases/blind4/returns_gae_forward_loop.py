# source: https://github.com/lorenmt/minimal-isaac-gym/issues/4 (PPO GAE recursion walked over the rollout in the wrong time order)
# expect: returns-misordered
# category: rl
# bug: RolloutBuffer.compute_gae runs the GAE recursion forward in time (t = 0..T-1), so each advantage accumulates the TD errors of PAST steps instead of future ones; the goal reward never propagates back to the actions that led there and the critic is fit to meaningless targets
import numpy as np
import torch
import torch.nn as nn
from torch.distributions import Categorical

np.random.seed(3)
torch.manual_seed(3)


class Corridor:
    """Vectorised 1-D corridor: walk right to the exit (+1), tiny cost per step."""

    def __init__(self, n_envs, length=12, max_steps=40):
        self.n, self.L, self.max_steps = n_envs, length, max_steps
        self.pos = np.zeros(n_envs, dtype=np.int64)
        self.t = np.zeros(n_envs, dtype=np.int64)

    def _obs(self):
        o = np.zeros((self.n, self.L), dtype=np.float32)
        o[np.arange(self.n), self.pos] = 1.0
        return o

    def reset(self):
        self.pos = np.random.randint(0, 4, size=self.n)
        self.t[:] = 0
        return self._obs()

    def step(self, action):
        # 0 = left, 1 = stay, 2 = right
        self.pos = np.clip(self.pos + (action - 1), 0, self.L - 1)
        self.t += 1
        at_goal = self.pos == self.L - 1
        reward = np.where(at_goal, 1.0, -0.01).astype(np.float32)
        done = at_goal | (self.t >= self.max_steps)
        # auto-reset finished envs
        idx = np.where(done)[0]
        self.pos[idx] = np.random.randint(0, 4, size=len(idx))
        self.t[idx] = 0
        return self._obs(), reward, done.astype(np.float32), at_goal


class ActorCritic(nn.Module):
    def __init__(self, obs_dim, n_actions, hidden=64):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(obs_dim, hidden), nn.Tanh(),
                                  nn.Linear(hidden, hidden), nn.Tanh())
        self.pi = nn.Linear(hidden, n_actions)
        self.v = nn.Linear(hidden, 1)

    def forward(self, x):
        h = self.body(x)
        return Categorical(logits=self.pi(h)), self.v(h).squeeze(-1)


class RolloutBuffer:
    def __init__(self, T, n_envs, obs_dim):
        self.obs = torch.zeros(T, n_envs, obs_dim)
        self.actions = torch.zeros(T, n_envs, dtype=torch.long)
        self.logp = torch.zeros(T, n_envs)
        self.rewards = torch.zeros(T, n_envs)
        self.dones = torch.zeros(T, n_envs)
        self.values = torch.zeros(T, n_envs)
        self.T = T

    def compute_gae(self, last_value, gamma=0.99, lam=0.95):
        adv = torch.zeros_like(self.rewards)
        last_gae = torch.zeros_like(last_value)
        for t in range(self.T):
            next_v = last_value if t == self.T - 1 else self.values[t + 1]
            nonterm = 1.0 - self.dones[t]
            delta = self.rewards[t] + gamma * next_v * nonterm - self.values[t]
            last_gae = delta + gamma * lam * nonterm * last_gae
            adv[t] = last_gae
        return adv, adv + self.values


def main():
    n_envs, T = 16, 64
    env = Corridor(n_envs)
    net = ActorCritic(12, 3)
    opt = torch.optim.Adam(net.parameters(), lr=3e-4, eps=1e-5)
    buf = RolloutBuffer(T, n_envs, 12)
    obs = torch.from_numpy(env.reset())
    ep_goals, ep_count = 0, 0

    for update in range(1, 41):
        for t in range(T):
            with torch.no_grad():
                dist, v = net(obs)
                a = dist.sample()
            nobs, r, d, goal = env.step(a.numpy())
            buf.obs[t], buf.actions[t], buf.logp[t] = obs, a, dist.log_prob(a)
            buf.values[t], buf.rewards[t], buf.dones[t] = v, torch.from_numpy(r), torch.from_numpy(d)
            ep_goals += int(goal.sum()); ep_count += int(d.sum())
            obs = torch.from_numpy(nobs)
        with torch.no_grad():
            _, last_v = net(obs)
        adv, ret = buf.compute_gae(last_v)

        b_obs = buf.obs.reshape(-1, 12); b_act = buf.actions.reshape(-1)
        b_logp = buf.logp.reshape(-1); b_adv = adv.reshape(-1); b_ret = ret.reshape(-1)
        b_adv = (b_adv - b_adv.mean()) / (b_adv.std() + 1e-8)
        N = b_obs.shape[0]
        for epoch in range(4):
            perm = torch.randperm(N)
            for s in range(0, N, 256):
                mb = perm[s:s + 256]
                dist, v = net(b_obs[mb])
                ratio = torch.exp(dist.log_prob(b_act[mb]) - b_logp[mb])
                pg = -torch.min(ratio * b_adv[mb], torch.clamp(ratio, 0.8, 1.2) * b_adv[mb]).mean()
                vf = 0.5 * (v - b_ret[mb]).pow(2).mean()
                loss = pg + 0.5 * vf - 0.01 * dist.entropy().mean()
                opt.zero_grad()
                loss.backward()
                nn.utils.clip_grad_norm_(net.parameters(), 0.5)
                opt.step()
        if update % 5 == 0:
            rate = ep_goals / max(ep_count, 1)
            print(f"update {update:4d}  loss {loss.item():.4f}  vf {vf.item():.4f}  "
                  f"episodes {ep_count:4d}  success {rate:.2f}")
            ep_goals, ep_count = 0, 0


if __name__ == "__main__":
    main()
