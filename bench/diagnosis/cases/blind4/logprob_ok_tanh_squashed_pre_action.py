# source: https://github.com/openai/baselines/issues/708 (policy loss uses a placeholder for the sampled action; discussion of which sample the log-prob must be evaluated at); tanh-squashed Gaussian variant (SAC appendix C change of variables)
# expect: healthy
# category: rl
# bug: none - the env receives tanh(u) but the buffer stores the raw Gaussian sample u, and the update evaluates log N(u) - log(1 - tanh(u)^2) at that SAME stored u; this is the exact log-density of the taken squashed action, not a different action
import math
import torch
import torch.nn as nn

torch.manual_seed(8)

N, STEPS, GAMMA = 64, 40, 0.95
MAX_TORQUE = 2.0


class Joint:
    """Single damped joint that has to hold a commanded angle."""

    def reset(self):
        self.theta = (torch.rand(N) * 2 - 1) * math.pi / 2
        self.omega = torch.zeros(N)
        self.target = (torch.rand(N) * 2 - 1) * math.pi / 3
        return self.obs()

    def obs(self):
        err = self.target - self.theta
        return torch.stack([torch.sin(err), torch.cos(err), self.omega / 2, self.target], 1)

    def step(self, torque):
        self.omega = 0.85 * self.omega + 0.1 * torque
        self.theta = self.theta + 0.1 * self.omega * 5
        err = (self.target - self.theta).abs()
        return self.obs(), -err - 0.01 * torque.pow(2)


class SquashedGaussian(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(4, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU())
        self.mu = nn.Linear(64, 1)
        self.log_std = nn.Linear(64, 1)

    def dist(self, obs):
        h = self.body(obs)
        return torch.distributions.Normal(self.mu(h).squeeze(-1), self.log_std(h).clamp(-4, 1).exp().squeeze(-1))

    def log_prob_pre_tanh(self, obs, u):
        return self.dist(obs).log_prob(u) - torch.log(1 - torch.tanh(u).pow(2) + 1e-6)


policy = SquashedGaussian()
value = nn.Sequential(nn.Linear(4, 64), nn.ReLU(), nn.Linear(64, 1))
opt = torch.optim.AdamW(list(policy.parameters()) + list(value.parameters()), lr=2e-3, weight_decay=1e-4)
env = Joint()

for it in range(1, 101):
    obs = env.reset()
    S, U, Rw = [], [], []
    for t in range(STEPS):
        with torch.no_grad():
            u = policy.dist(obs).sample()
        S.append(obs); U.append(u)
        obs, r = env.step(MAX_TORQUE * torch.tanh(u))
        Rw.append(r)
    S, U, Rw = torch.stack(S), torch.stack(U), torch.stack(Rw)
    G = torch.zeros_like(Rw); acc = torch.zeros(N)
    for t in reversed(range(STEPS)):
        acc = Rw[t] + GAMMA * acc
        G[t] = acc
    v = value(S).squeeze(-1)
    adv = (G - v).detach()
    adv = (adv - adv.mean()) / (adv.std() + 1e-8)
    logp = policy.log_prob_pre_tanh(S, U)
    loss = -(logp * adv).mean() + 0.05 * (v - G).pow(2).mean()
    opt.zero_grad()
    loss.backward()
    nn.utils.clip_grad_norm_(list(policy.parameters()) + list(value.parameters()), 1.0)
    opt.step()
    if it % 10 == 0:
        print(f"iter {it:3d}  loss {loss.item():.4f}  mean reward {Rw.mean().item():+.3f}  "
              f"final |err| {(env.target - env.theta).abs().mean().item():.3f} rad")
