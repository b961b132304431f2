# source: https://github.com/openai/random-network-distillation/issues/16
# expect: returns-wrong-order
# category: rl
# bug: the GAE helper runs its recursion forward over t (for t in range(T)), so each advantage accumulates the TD errors of earlier steps instead of later ones
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(17)

cfg = {"envs": 24, "T": 16, "obs": 4, "actions": 4, "gamma": 0.9, "lam": 0.9, "lr": 3e-3, "updates": 200}


class DelayedKeyEnv:
    """A key colour is shown; pressing the matching button pays out on the next step."""

    def __init__(self, n, n_obs):
        self.n, self.n_obs = n, n_obs
        self.owed = torch.zeros(n)
        self.key = torch.randint(n_obs, (n,))

    def obs(self):
        return F.one_hot(self.key, self.n_obs).float()

    def step(self, a):
        r = self.owed
        self.owed = (a == self.key).float()
        self.key = torch.randint(self.n_obs, (self.n,))
        return self.obs(), r


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.torso = nn.Sequential(nn.Linear(cfg["obs"], 64), nn.Tanh())
        self.actor = nn.Linear(64, cfg["actions"])
        self.critic = nn.Linear(64, 1)

    def forward(self, x):
        z = self.torso(x)
        return self.actor(z), self.critic(z).squeeze(-1)


def compute_gae(rewards, values, last_value, gamma, lam):
    T = rewards.shape[0]
    next_values = torch.cat([values[1:], last_value.unsqueeze(0)])
    deltas = rewards + gamma * next_values - values
    adv = torch.zeros_like(rewards)
    gae = torch.zeros(rewards.shape[1])
    for t in range(T):
        gae = deltas[t] + gamma * lam * gae
        adv[t] = gae
    return adv


env = DelayedKeyEnv(cfg["envs"], cfg["obs"])
net = Net()
opt = torch.optim.Adam(net.parameters(), lr=cfg["lr"])
obs = env.obs()
for u in range(cfg["updates"]):
    logps, values, rewards = [], [], []
    for t in range(cfg["T"]):
        logits, v = net(obs)
        dist = torch.distributions.Categorical(logits=logits)
        a = dist.sample()
        logps.append(dist.log_prob(a))
        values.append(v)
        obs, r = env.step(a)
        rewards.append(r)
    logps, values, rewards = torch.stack(logps), torch.stack(values), torch.stack(rewards)
    with torch.no_grad():
        last_v = net(obs)[1]
        adv = compute_gae(rewards, values.detach(), last_v, cfg["gamma"], cfg["lam"])
        ret = adv + values.detach()
    actor_loss = -(logps * adv).mean()
    critic_loss = F.mse_loss(values, ret)
    loss = actor_loss + 0.5 * critic_loss
    opt.zero_grad()
    loss.backward()
    opt.step()
    if u % 20 == 0 or u == cfg["updates"] - 1:
        print(f"update {u:3d} loss {loss.item():+.4f} critic {critic_loss.item():.4f} reward/step {rewards.mean().item():.3f}")
