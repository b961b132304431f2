# source: https://datascience.stackexchange.com (question "Reinforcement learning: Discounting rewards in the REINFORCE algorithm" - user unsure whether G_t sums R_t..R_T or R_0..R_t); vectorised discount-matrix variant
# expect: returns-misordered
# category: rl
# bug: discount_matrix() keeps the LOWER triangle, so returns = rewards @ M.T sums gamma^(t-k) r_k over past days k<=t; with a 2-day order lead time an order's consequences never enter its own return, so the ordering policy learns nothing useful
import torch
import torch.nn as nn

torch.manual_seed(0)

HORIZON = 30
BATCH = 128
LEAD = 2
MAX_ORDER = 6            # actions 0..5 units
PRICE, UNIT_COST, HOLD, STOCKOUT = 4.0, 1.0, 0.2, 2.0
GAMMA = 0.97


class InventoryBatch:
    """Batched single-product inventory with a fixed delivery lead time."""

    def __init__(self, batch):
        self.b = batch

    def reset(self):
        self.stock = torch.randint(0, 6, (self.b,)).float()
        self.pipeline = torch.zeros(self.b, LEAD)
        self.day = 0
        return self.obs()

    def obs(self):
        d = torch.full((self.b, 1), self.day / HORIZON)
        return torch.cat([self.stock[:, None] / 10.0, self.pipeline / 5.0, d], dim=1)

    def step(self, order):
        arriving = self.pipeline[:, 0]
        self.pipeline = torch.cat([self.pipeline[:, 1:], order.float()[:, None]], dim=1)
        self.stock = self.stock + arriving
        demand = torch.poisson(torch.full((self.b,), 3.0))
        sold = torch.minimum(self.stock, demand)
        self.stock = self.stock - sold
        reward = PRICE * sold - UNIT_COST * order.float() - HOLD * self.stock - STOCKOUT * (demand - sold)
        self.day += 1
        return self.obs(), reward / 10.0


def discount_matrix(T, gamma):
    i = torch.arange(T)
    lag = (i[:, None] - i[None, :]).abs().float()
    return torch.tril(gamma ** lag)


policy = nn.Sequential(nn.Linear(2 + LEAD, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(),
                       nn.Linear(64, MAX_ORDER))
opt = torch.optim.Adam(policy.parameters(), lr=3e-3)
env = InventoryBatch(BATCH)
D = discount_matrix(HORIZON, GAMMA)

for it in range(1, 121):
    obs = env.reset()
    logps, rewards = [], []
    for t in range(HORIZON):
        dist = torch.distributions.Categorical(logits=policy(obs))
        a = dist.sample()
        logps.append(dist.log_prob(a))
        obs, r = env.step(a)
        rewards.append(r)
    logps = torch.stack(logps, 1)          # [B, T]
    rewards = torch.stack(rewards, 1)      # [B, T]
    returns = rewards @ D.T                # [B, T]
    baseline = returns.mean(0, keepdim=True)
    adv = (returns - baseline) / (returns.std(0, keepdim=True) + 1e-6)
    loss = -(logps * adv).sum(1).mean() / HORIZON

    opt.zero_grad()
    loss.backward()
    opt.step()

    if it % 20 == 0:
        profit = rewards.sum(1).mean().item() * 10
        print(f"iter {it:3d}  loss {loss.item():+.4f}  mean 30-day profit {profit:7.2f}  "
              f"mean order {a.float().mean().item():.2f}")
