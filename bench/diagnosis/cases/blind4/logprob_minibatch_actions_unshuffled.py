# source: https://github.com/alessiodm/drl-zh/issues/17 (PPO tensors shuffled by different index sets, so rows of one minibatch no longer belong to the same time step)
# expect: log-prob-of-untaken-action, labels-decoupled
# category: rl
# bug: iterate_minibatches() indexes observations, old log-probs and advantages with the shuffled permutation but slices actions by position (actions[start:end]); the PPO ratio is computed for actions that were taken in other states, so the grid-navigation policy does not improve
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(9)
np.random.seed(9)

G = 5
N_ENVS, T_ROLL = 16, 32
DIRS = np.array([[-1, 0], [1, 0], [0, -1], [0, 1]])


class GoalGrid:
    def __init__(self, n, max_steps=20):
        self.n, self.max_steps = n, max_steps
        self.agent = np.zeros((n, 2), int); self.goal = np.zeros((n, 2), int); self.t = np.zeros(n, int)

    def _respawn(self, idx):
        for i in idx:
            self.agent[i] = np.random.randint(0, G, 2)
            g = np.random.randint(0, G, 2)
            while (g == self.agent[i]).all():
                g = np.random.randint(0, G, 2)
            self.goal[i] = g
            self.t[i] = 0

    def reset(self):
        self._respawn(range(self.n))
        return self.image()

    def image(self):
        img = np.zeros((self.n, 2, G, G), np.float32)
        r = np.arange(self.n)
        img[r, 0, self.agent[:, 0], self.agent[:, 1]] = 1
        img[r, 1, self.goal[:, 0], self.goal[:, 1]] = 1
        return img

    def step(self, a):
        self.agent = np.clip(self.agent + DIRS[a], 0, G - 1)
        self.t += 1
        hit = (self.agent == self.goal).all(1)
        rew = np.where(hit, 1.0, -0.01).astype(np.float32)
        done = hit | (self.t >= self.max_steps)
        self._respawn(np.where(done)[0])
        return self.image(), rew, done.astype(np.float32), hit


class ConvAC(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Sequential(nn.Conv2d(2, 16, 3, padding=1), nn.ReLU(),
                                  nn.Conv2d(16, 16, 3, padding=1), nn.ReLU(), nn.Flatten())
        self.fc = nn.Sequential(nn.Linear(16 * G * G, 128), nn.ReLU())
        self.pi = nn.Linear(128, 4)
        self.v = nn.Linear(128, 1)

    def forward(self, x):
        h = self.fc(self.conv(x))
        return self.pi(h), self.v(h).squeeze(-1)


def iterate_minibatches(batch, mb_size):
    n = batch["obs"].shape[0]
    perm = torch.randperm(n)
    for start in range(0, n, mb_size):
        end = start + mb_size
        idx = perm[start:end]
        yield (batch["obs"][idx], batch["actions"][start:end], batch["logp"][idx],
               batch["adv"][idx], batch["ret"][idx])


env = GoalGrid(N_ENVS)
net = ConvAC()
opt = torch.optim.Adam(net.parameters(), lr=1e-3)
obs = torch.from_numpy(env.reset())
gamma, lam = 0.97, 0.95
hits, episodes = 0, 0
for update in range(1, 33):
    buf = {k: [] for k in ["obs", "actions", "logp", "rew", "done", "val"]}
    for t in range(T_ROLL):
        with torch.no_grad():
            logits, v = net(obs)
            dist = torch.distributions.Categorical(logits=logits)
            a = dist.sample()
        nobs, r, d, hit = env.step(a.numpy())
        for k, x in zip(buf, [obs, a, dist.log_prob(a), torch.from_numpy(r), torch.from_numpy(d), v]):
            buf[k].append(x)
        hits += hit.sum(); episodes += d.sum()
        obs = torch.from_numpy(nobs)
    for k in buf:
        buf[k] = torch.stack(buf[k])
    with torch.no_grad():
        _, next_v = net(obs)
    adv = torch.zeros(T_ROLL, N_ENVS); gae = torch.zeros(N_ENVS)
    for t in reversed(range(T_ROLL)):
        nv = next_v if t == T_ROLL - 1 else buf["val"][t + 1]
        delta = buf["rew"][t] + gamma * nv * (1 - buf["done"][t]) - buf["val"][t]
        gae = delta + gamma * lam * (1 - buf["done"][t]) * gae
        adv[t] = gae
    batch = {"obs": buf["obs"].flatten(0, 1), "actions": buf["actions"].flatten(0, 1),
             "logp": buf["logp"].flatten(0, 1), "adv": adv.flatten(0, 1),
             "ret": (adv + buf["val"]).flatten(0, 1)}
    batch["adv"] = (batch["adv"] - batch["adv"].mean()) / (batch["adv"].std() + 1e-8)

    for epoch in range(4):
        for o, a, old_logp, A, R in iterate_minibatches(batch, 128):
            logits, v = net(o)
            logp = F.log_softmax(logits, -1).gather(1, a[:, None]).squeeze(1)
            ratio = (logp - old_logp).exp()
            clip_obj = torch.min(ratio * A, ratio.clamp(0.8, 1.2) * A)
            ent = torch.distributions.Categorical(logits=logits).entropy().mean()
            loss = -clip_obj.mean() + 0.5 * F.mse_loss(v, R) - 0.01 * ent
            opt.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(net.parameters(), 0.5)
            opt.step()
    if update % 4 == 0:
        print(f"update {update:3d}  loss {loss.item():+.4f}  entropy {ent.item():.3f}  "
              f"success {hits / max(episodes, 1):.2f} over {int(episodes)} episodes")
        hits, episodes = 0, 0
