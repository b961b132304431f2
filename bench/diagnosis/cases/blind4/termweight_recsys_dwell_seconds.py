# source: https://www.systemoverflow.com/learn/ml-cv-systems/multi-task-learning-cv/loss-balancing-and-gradient-interference (CTR BCE summed with dwell-time MSE in seconds; the dwell task dominates and CTR stops learning)
# expect: loss-imbalance, unnormalized-targets
# category: multi-loss
# bug: dwell-time target is fed to the MSE head in raw seconds (MSE ~1e3) and simply added to the click BCE (~0.7), so the shared embeddings/tower follow only the dwell gradient and the click task stays near chance
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(7)
np.random.seed(7)

N_USERS, N_ITEMS = 150, 120
N_TRAIN, N_TEST = 40000, 8000


def make_interactions(n, rng):
    """Synthetic feed log: click depends on user/item taste match,
    dwell time (seconds) depends on item length and user patience."""
    u = rng.randint(0, N_USERS, size=n)
    i = rng.randint(0, N_ITEMS, size=n)
    taste = (U_TASTE[u] * I_TASTE[i]).sum(1)
    p_click = 1.0 / (1.0 + np.exp(-2.5 * taste))
    click = (rng.rand(n) < p_click).astype(np.float32)
    dwell = 25.0 + 140.0 * I_LEN[i] * U_PAT[u] + rng.randn(n) * 20.0
    dwell = np.clip(dwell, 1.0, None).astype(np.float32)
    return u, i, click, dwell


rng = np.random.RandomState(0)
U_TASTE = rng.randn(N_USERS, 3) / np.sqrt(3) * 1.8
I_TASTE = rng.randn(N_ITEMS, 3) / np.sqrt(3) * 1.8
I_LEN = rng.rand(N_ITEMS)
U_PAT = 0.5 + rng.rand(N_USERS)


class FeedLog:
    def __init__(self, n, seed):
        r = np.random.RandomState(seed)
        self.u, self.i, self.click, self.dwell = make_interactions(n, r)
        self.tensors = {
            "user": torch.from_numpy(self.u).long(),
            "item": torch.from_numpy(self.i).long(),
            "click": torch.from_numpy(self.click),
            "dwell": torch.from_numpy(self.dwell),
        }

    def __len__(self):
        return len(self.u)

    def batches(self, batch_size, shuffle=True):
        idx = torch.randperm(len(self)) if shuffle else torch.arange(len(self))
        for s in range(0, len(self), batch_size):
            sel = idx[s:s + batch_size]
            yield {k: v[sel] for k, v in self.tensors.items()}


class SharedBottom(nn.Module):
    def __init__(self, dim=32, hidden=64):
        super().__init__()
        self.user_emb = nn.Embedding(N_USERS, dim)
        self.item_emb = nn.Embedding(N_ITEMS, dim)
        nn.init.normal_(self.user_emb.weight, std=0.1)
        nn.init.normal_(self.item_emb.weight, std=0.1)
        self.bottom = nn.Sequential(
            nn.Linear(3 * dim, hidden), nn.ReLU(),
            nn.Linear(hidden, hidden), nn.ReLU(),
        )
        self.ctr_head = nn.Linear(hidden, 1)
        self.dwell_head = nn.Linear(hidden, 1)

    def forward(self, user, item):
        ue, ie = self.user_emb(user), self.item_emb(item)
        h = self.bottom(torch.cat([ue, ie, ue * ie], dim=-1))
        return self.ctr_head(h).squeeze(-1), self.dwell_head(h).squeeze(-1)


def auc(scores, labels):
    order = np.argsort(scores)
    ranks = np.empty_like(order, dtype=np.float64)
    ranks[order] = np.arange(1, len(scores) + 1)
    pos = labels == 1
    n_pos, n_neg = pos.sum(), (~pos).sum()
    return (ranks[pos].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)


train_ds = FeedLog(N_TRAIN, 1)
test_ds = FeedLog(N_TEST, 2)

model = SharedBottom()
opt = torch.optim.Adam(model.parameters(), lr=2e-3)
task_weights = {"ctr": 1.0, "dwell": 1.0}

for epoch in range(8):
    model.train()
    tot_ctr, tot_dw, nb = 0.0, 0.0, 0
    for batch in train_ds.batches(256):
        ctr_logit, dwell_pred = model(batch["user"], batch["item"])
        l_ctr = F.binary_cross_entropy_with_logits(ctr_logit, batch["click"])
        l_dwell = F.mse_loss(dwell_pred, batch["dwell"])
        loss = task_weights["ctr"] * l_ctr + task_weights["dwell"] * l_dwell
        opt.zero_grad()
        loss.backward()
        opt.step()
        tot_ctr += l_ctr.item(); tot_dw += l_dwell.item(); nb += 1

    model.eval()
    with torch.no_grad():
        lg, dw = model(torch.from_numpy(test_ds.u), torch.from_numpy(test_ds.i))
        test_auc = auc(lg.numpy(), test_ds.click)
        dw_mae = (dw - torch.from_numpy(test_ds.dwell)).abs().mean().item()
    print(f"epoch {epoch}  ctr_bce {tot_ctr / nb:.4f}  dwell_mse {tot_dw / nb:.1f}  "
          f"test_auc {test_auc:.3f}  dwell_mae {dw_mae:.1f}s")
