# source: https://github.com/shehzaadzd/MINERVA/issues/28
# expect: returns-wrong-order
# category: rl
# bug: n-step returns are written to index t-1 while iterating backwards, so each step's return excludes its own reward and the first return lands on the last step
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(7)

N_ENVS, ROLLOUT, N_FEAT, N_ACT = 32, 8, 6, 3
GAMMA = 0.8


class SignalEnv:
    """Continuing task, time-major rollouts: pick the arm matching the sign pattern of the observation."""

    def __init__(self):
        self.proj = torch.randn(N_FEAT, N_ACT)
        self.obs = torch.randn(N_ENVS, N_FEAT)

    def step(self, a):
        best = (self.obs @ self.proj).argmax(1)
        r = (a == best).float()
        self.obs = torch.randn(N_ENVS, N_FEAT)
        return self.obs, r


class ActorCritic(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(N_FEAT, 64), nn.Tanh())
        self.pi = nn.Linear(64, N_ACT)
        self.v = nn.Linear(64, 1)

    def forward(self, x):
        h = self.body(x)
        return self.pi(h), self.v(h).squeeze(-1)


env = SignalEnv()
net = ActorCritic()
opt = torch.optim.AdamW(net.parameters(), lr=3e-3, weight_decay=1e-4)

obs = env.obs
for update in range(250):
    logps, vals, rews, ents = [], [], [], []
    for t in range(ROLLOUT):
        logits, v = net(obs)
        dist = torch.distributions.Categorical(logits=logits)
        a = dist.sample()
        logps.append(dist.log_prob(a))
        ents.append(dist.entropy())
        vals.append(v)
        obs, r = env.step(a)
        rews.append(r)
    logps = torch.stack(logps)          # (T, N)
    vals = torch.stack(vals)
    rews = torch.stack(rews)
    ents = torch.stack(ents)

    with torch.no_grad():
        _, last_v = net(obs)
        returns = torch.zeros_like(rews)
        running = last_v
        for t in reversed(range(ROLLOUT)):
            running = rews[t] + GAMMA * running
            returns[t - 1] = running

    adv = returns - vals.detach()
    policy_loss = -(logps * adv).mean()
    value_loss = F.mse_loss(vals, returns)
    loss = policy_loss + 0.5 * value_loss - 0.01 * ents.mean()
    opt.zero_grad()
    loss.backward()
    opt.step()
    if update % 25 == 0 or update == 249:
        print(f"update {update:3d} loss {loss.item():.4f} value_loss {value_loss.item():.4f} avg_reward {rews.mean().item():.3f}")
