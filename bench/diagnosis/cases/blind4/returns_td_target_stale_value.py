# source: https://github.com/openai/spinningup/issues/50 (actor-critic targets paired with the wrong time step: value/reward alignment shifted by one step)
# expect: returns-misordered
# category: rl
# bug: Agent.update bootstraps the TD target from self._v_cache, the value of the state the action was taken IN (V(s_t)) instead of V(s_{t+1}); the advantage collapses to r - (1-gamma)V(s), only the final step into the goal gets credit and the agent never learns to navigate the maze
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(7)
np.random.seed(7)

SIZE = 6
MOVES = np.array([[-1, 0], [1, 0], [0, -1], [0, 1]])
WALLS = {(1, 1), (2, 1), (3, 1), (3, 3), (3, 4), (1, 4)}


class GridWorld:
    def __init__(self, n, max_steps=40):
        self.n, self.max_steps = n, max_steps
        self.pos = np.zeros((n, 2), dtype=np.int64)
        self.t = np.zeros(n, dtype=np.int64)

    def obs(self):
        o = np.zeros((self.n, SIZE * SIZE), dtype=np.float32)
        o[np.arange(self.n), self.pos[:, 0] * SIZE + self.pos[:, 1]] = 1.0
        return o

    def reset_idx(self, idx):
        self.pos[idx] = 0
        self.t[idx] = 0

    def reset(self):
        self.reset_idx(np.arange(self.n))
        return self.obs()

    def step(self, a):
        new = np.clip(self.pos + MOVES[a], 0, SIZE - 1)
        blocked = np.array([tuple(p) in WALLS for p in new])
        new[blocked] = self.pos[blocked]
        self.pos = new
        self.t += 1
        goal = (self.pos[:, 0] == SIZE - 1) & (self.pos[:, 1] == SIZE - 1)
        r = np.where(goal, 1.0, -0.01).astype(np.float32)
        done = goal | (self.t >= self.max_steps)
        return r, done.astype(np.float32), goal


class Agent:
    def __init__(self, obs_dim, n_act, gamma=0.97):
        self.actor = nn.Sequential(nn.Linear(obs_dim, 128), nn.ReLU(), nn.Linear(128, n_act))
        self.critic = nn.Sequential(nn.Linear(obs_dim, 128), nn.ReLU(), nn.Linear(128, 1))
        self.a_opt = torch.optim.Adam(self.actor.parameters(), lr=1e-3)
        self.c_opt = torch.optim.Adam(self.critic.parameters(), lr=3e-3)
        self.gamma = gamma
        self._v_cache = None

    def act(self, obs):
        logits = self.actor(obs)
        dist = torch.distributions.Categorical(logits=logits)
        a = dist.sample()
        self._logp = dist.log_prob(a)
        self._entropy = dist.entropy()
        self._v = self.critic(obs).squeeze(-1)
        self._v_cache = self._v.detach()
        return a

    def update(self, reward, done, next_obs):
        with torch.no_grad():
            bootstrap = self._v_cache
        target = reward + self.gamma * bootstrap * (1.0 - done)
        adv = (target - self._v).detach()
        critic_loss = F.smooth_l1_loss(self._v, target)
        actor_loss = -(self._logp * adv).mean() - 0.01 * self._entropy.mean()
        self.c_opt.zero_grad(); critic_loss.backward(); self.c_opt.step()
        self.a_opt.zero_grad(); actor_loss.backward(); self.a_opt.step()
        return actor_loss.item(), critic_loss.item()


N_ENVS = 16
env = GridWorld(N_ENVS)
agent = Agent(SIZE * SIZE, 4)
obs = torch.from_numpy(env.reset())
finished, reached, lens = 0, 0, []
ep_len = np.zeros(N_ENVS)
for step in range(1, 1201):
    a = agent.act(obs)
    r, d, goal = env.step(a.numpy())
    next_obs = torch.from_numpy(env.obs())
    al, cl = agent.update(torch.from_numpy(r), torch.from_numpy(d), next_obs)
    ep_len += 1
    done_idx = np.where(d > 0)[0]
    finished += len(done_idx); reached += int(goal.sum())
    lens.extend(ep_len[done_idx].tolist()); ep_len[done_idx] = 0
    env.reset_idx(done_idx)
    obs = torch.from_numpy(env.obs())
    if step % 120 == 0:
        print(f"step {step:5d}  actor_loss {al:+.4f}  critic_loss {cl:.4f}  "
              f"episodes {finished:4d}  goal_rate {reached / max(finished, 1):.2f}  "
              f"mean_len {np.mean(lens) if lens else 0:.1f}")
        finished, reached, lens = 0, 0, []
