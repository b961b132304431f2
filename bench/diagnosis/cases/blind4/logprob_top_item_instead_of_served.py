# source: https://github.com/shariqiqbal2810/MAAC/issues/20 (confusion about which action's log-prob enters the policy-gradient loss: log pi of the sampled action vs. other actions); REINFORCE-for-recommendation variant
# expect: log-prob-of-untaken-action
# category: rl
# bug: TwoTowerPolicy.served_log_prob() returns the log-prob of the TOP-scoring item (max over log_softmax) instead of the item that was actually sampled and shown; with a mean-reward baseline the expected gradient is zero and the click-through rate stays near random
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(4)
np.random.seed(4)

N_USERS, N_ITEMS, DIM = 400, 30, 16
BATCH = 256

# ground-truth click model (hidden from the learner)
_g = torch.Generator().manual_seed(123)
TRUE_U = torch.randn(N_USERS, 4, generator=_g)
TRUE_I = torch.randn(N_ITEMS, 4, generator=_g)
CLICK_P = torch.sigmoid(1.5 * TRUE_U @ TRUE_I.T - 1.0)       # [users, items]


class TwoTowerPolicy(nn.Module):
    def __init__(self):
        super().__init__()
        self.user = nn.Embedding(N_USERS, DIM)
        self.item = nn.Embedding(N_ITEMS, DIM)
        self.item_bias = nn.Parameter(torch.zeros(N_ITEMS))
        nn.init.normal_(self.user.weight, std=0.1)
        nn.init.normal_(self.item.weight, std=0.1)

    def scores(self, users):
        return self.user(users) @ self.item.weight.T + self.item_bias

    @torch.no_grad()
    def serve(self, users):
        return torch.distributions.Categorical(logits=self.scores(users)).sample()

    def served_log_prob(self, users, items):
        logp = F.log_softmax(self.scores(users), dim=-1)
        return logp.max(dim=-1).values


def expected_ctr(policy):
    with torch.no_grad():
        probs = F.softmax(policy.scores(torch.arange(N_USERS)), -1)
        return (probs * CLICK_P).sum(1).mean().item()


policy = TwoTowerPolicy()
opt = torch.optim.Adam(policy.parameters(), lr=1e-2)
baseline = 0.0
print(f"random-policy CTR {CLICK_P.mean().item():.3f}   oracle CTR {CLICK_P.max(1).values.mean().item():.3f}")
for step in range(1, 601):
    users = torch.randint(0, N_USERS, (BATCH,))
    items = policy.serve(users)
    clicks = torch.bernoulli(CLICK_P[users, items])
    baseline = 0.95 * baseline + 0.05 * clicks.mean().item()
    logp = policy.served_log_prob(users, items)
    loss = -((clicks - baseline) * logp).mean()
    opt.zero_grad()
    loss.backward()
    opt.step()
    if step % 50 == 0:
        print(f"step {step:5d}  loss {loss.item():+.4f}  batch CTR {clicks.mean().item():.3f}  "
              f"policy CTR {expected_ctr(policy):.3f}")
