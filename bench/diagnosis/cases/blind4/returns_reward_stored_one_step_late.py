# source: https://github.com/openai/spinningup/issues/50 ("Silent bug in ppo implementation - rewards shifted": the buffer stores the reward received BEFORE each observation)
# expect: returns-misordered
# category: rl
# bug: the runner stores (obs_t, action_t, last_reward) where last_reward is r_{t-1} from the previous env.step, so every action is credited with the click of the previous recommendation; with iid user contexts the real reward of an action only enters its return discounted by gamma, so the CTR barely improves
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

SEED = 11
np.random.seed(SEED)
torch.manual_seed(SEED)

N_USERS = 32          # parallel sessions
CTX_DIM = 10
N_ITEMS = 6
ROLLOUT = 20
GAMMA = 0.1
UPDATES = 150


class FeedSimulator:
    """Each step a user shows up with a fresh interest vector; they click the
    recommended article with probability sigmoid(affinity)."""

    def __init__(self, n):
        self.n = n
        rng = np.random.RandomState(0)
        self.item_w = rng.randn(N_ITEMS, CTX_DIM).astype(np.float32)
        self.ctx = None

    def _draw(self):
        self.ctx = np.random.randn(self.n, CTX_DIM).astype(np.float32)
        return self.ctx

    def reset(self):
        return self._draw()

    def step(self, items):
        aff = np.einsum("nd,nd->n", self.ctx, self.item_w[items])
        p = 1.0 / (1.0 + np.exp(-1.5 * aff))
        clicks = (np.random.rand(self.n) < p).astype(np.float32)
        return self._draw(), clicks


class Recommender(nn.Module):
    def __init__(self):
        super().__init__()
        self.trunk = nn.Sequential(nn.Linear(CTX_DIM, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU())
        self.policy_head = nn.Linear(64, N_ITEMS)
        self.value_head = nn.Linear(64, 1)

    def forward(self, ctx):
        h = self.trunk(ctx)
        return self.policy_head(h), self.value_head(h).squeeze(-1)


def discounted(rewards, bootstrap, gamma):
    out = torch.zeros_like(rewards)
    running = bootstrap
    for t in reversed(range(rewards.shape[0])):
        running = rewards[t] + gamma * running
        out[t] = running
    return out


env = FeedSimulator(N_USERS)
model = Recommender()
optimizer = torch.optim.RMSprop(model.parameters(), lr=7e-4, alpha=0.99, eps=1e-5)

obs = env.reset()
last_reward = np.zeros(N_USERS, dtype=np.float32)
ctr_hist = []
for update in range(1, UPDATES + 1):
    traj_obs, traj_act, traj_rew = [], [], []
    for t in range(ROLLOUT):
        with torch.no_grad():
            logits, _ = model(torch.from_numpy(obs))
            action = torch.distributions.Categorical(logits=logits).sample()
        traj_obs.append(obs)
        traj_act.append(action)
        traj_rew.append(last_reward)
        obs, last_reward = env.step(action.numpy())
        ctr_hist.append(last_reward.mean())

    obs_b = torch.from_numpy(np.stack(traj_obs))            # [T, N, D]
    act_b = torch.stack(traj_act)                            # [T, N]
    rew_b = torch.from_numpy(np.stack(traj_rew))             # [T, N]
    with torch.no_grad():
        _, boot = model(torch.from_numpy(obs))
    returns = discounted(rew_b, boot, GAMMA)

    logits, values = model(obs_b)
    logp = F.log_softmax(logits, -1).gather(-1, act_b.unsqueeze(-1)).squeeze(-1)
    adv = (returns - values).detach()
    policy_loss = -(logp * adv).mean()
    value_loss = F.mse_loss(values, returns)
    entropy = -(F.softmax(logits, -1) * F.log_softmax(logits, -1)).sum(-1).mean()
    loss = policy_loss + 0.5 * value_loss - 0.01 * entropy

    optimizer.zero_grad()
    loss.backward()
    nn.utils.clip_grad_norm_(model.parameters(), 0.5)
    optimizer.step()

    if update % 15 == 0:
        print(f"update {update:4d} | loss {loss.item():+.4f} | value {value_loss.item():.4f} | "
              f"entropy {entropy.item():.3f} | CTR(last 15) {np.mean(ctr_hist[-15 * ROLLOUT:]):.3f}")
