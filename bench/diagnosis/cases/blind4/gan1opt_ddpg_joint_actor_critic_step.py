# source: https://github.com/JoshuaWu1997/PyTorch-DDPG-Stock-Trading/issues/2 ("The two gradients need to be calculated separately, because their loss functions are different" - actor and critic updated together)
# expect: game-shared-optimizer
# category: rl
# bug: DDPGAgent.learn() sums critic_loss and actor_loss (-Q(s, mu(s))) and steps ONE Adam over actor+critic; the actor objective's gradient also flows into the critic and pushes Q(s, mu(s)) upward, so the critic stops estimating returns, Q values inflate and the docking controller never learns to stop at the target
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(6)
np.random.seed(6)


class Docking:
    """Double integrator on a rail: reach x=0 and stay there."""

    def reset(self):
        self.x = np.random.uniform(-2, 2)
        self.v = 0.0
        self.t = 0
        return np.array([self.x, self.v], np.float32)

    def step(self, a):
        a = float(np.clip(a, -1, 1))
        self.v = 0.95 * self.v + 0.1 * a
        self.x = float(np.clip(self.x + 0.1 * self.v * 3, -3, 3))
        self.t += 1
        r = -abs(self.x) - 0.1 * abs(self.v) - 0.01 * a * a
        return np.array([self.x, self.v], np.float32), r, self.t >= 60


class Replay:
    def __init__(self, cap=20000):
        self.s = np.zeros((cap, 2), np.float32); self.a = np.zeros((cap, 1), np.float32)
        self.r = np.zeros((cap, 1), np.float32); self.s2 = np.zeros((cap, 2), np.float32)
        self.d = np.zeros((cap, 1), np.float32); self.n = 0; self.cap = cap

    def add(self, s, a, r, s2, d):
        i = self.n % self.cap
        self.s[i], self.a[i], self.r[i], self.s2[i], self.d[i] = s, a, r, s2, d
        self.n += 1

    def sample(self, b):
        idx = np.random.randint(0, min(self.n, self.cap), b)
        return [torch.from_numpy(x[idx]) for x in (self.s, self.a, self.r, self.s2, self.d)]


class DDPGAgent:
    def __init__(self, gamma=0.97, tau=0.01):
        self.actor = nn.Sequential(nn.Linear(2, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 1), nn.Tanh())
        self.critic = nn.Sequential(nn.Linear(3, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 1))
        self.actor_t = self._clone(self.actor)
        self.critic_t = self._clone(self.critic)
        self.opt = torch.optim.Adam(list(self.actor.parameters()) + list(self.critic.parameters()), lr=1e-3)
        self.gamma, self.tau = gamma, tau

    @staticmethod
    def _clone(net):
        import copy
        c = copy.deepcopy(net)
        for p in c.parameters():
            p.requires_grad_(False)
        return c

    def q(self, net, s, a):
        return net(torch.cat([s, a], 1))

    def learn(self, batch):
        s, a, r, s2, d = batch
        with torch.no_grad():
            y = r + self.gamma * (1 - d) * self.q(self.critic_t, s2, self.actor_t(s2))
        critic_loss = F.mse_loss(self.q(self.critic, s, a), y)
        actor_loss = -self.q(self.critic, s, self.actor(s)).mean()
        self.opt.zero_grad()
        (critic_loss + actor_loss).backward()
        self.opt.step()
        for net, tgt in ((self.actor, self.actor_t), (self.critic, self.critic_t)):
            for p, pt in zip(net.parameters(), tgt.parameters()):
                pt.mul_(1 - self.tau).add_(self.tau * p.detach())
        return critic_loss.item(), actor_loss.item()


env, agent, buf = Docking(), DDPGAgent(), Replay()
total_steps, cl, al = 0, 0.0, 0.0
for ep in range(1, 31):
    s, done, ep_ret = env.reset(), False, 0.0
    while not done:
        with torch.no_grad():
            a = agent.actor(torch.from_numpy(s)[None]).item()
        a = float(np.clip(a + 0.2 * np.random.randn(), -1, 1))
        s2, r, done = env.step(a)
        buf.add(s, a, r, s2, float(done))
        s, ep_ret = s2, ep_ret + r
        total_steps += 1
        if buf.n >= 128:
            cl, al = agent.learn(buf.sample(64))
    if ep % 3 == 0:
        print(f"episode {ep:3d}  return {ep_ret:8.2f}  final |x| {abs(env.x):.3f}  "
              f"critic_loss {cl:.4f}  actor_loss(-Q) {al:.3f}")
