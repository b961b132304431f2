# source: Hugging Face transformers / accelerate discussions on gradient-accumulation loss scaling (e.g. the 2024 "gradient accumulation loss normalisation" fix, and user reports of the loss being divided by gradient_accumulation_steps twice); PyTorch forum "How to accumulate gradients correctly"
# expect: lr-too-low, slow-convergence, wrong-loss-reduction
# category: tabular
# bug: GradAccumulator divides every micro-batch loss by accum_steps AND divides the accumulated .grad by accum_steps again before stepping, so gradients are 1/accum_steps^2 (1/16) of the mean-loss gradient; with plain SGD the recommender's effective lr is 16x too small and RMSE barely improves
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset

torch.manual_seed(30)
np.random.seed(30)

N_USERS, N_ITEMS = 800, 500


class Ratings(Dataset):
    def __init__(self, users, items, ratings):
        self.u, self.i, self.r = users, items, ratings

    def __len__(self):
        return len(self.r)

    def __getitem__(self, k):
        return self.u[k], self.i[k], self.r[k]


def synth_ratings(n, rng):
    Pu = rng.normal(0, 1, (N_USERS, 6))
    Qi = rng.normal(0, 1, (N_ITEMS, 6))
    bu = rng.normal(0, 0.4, N_USERS)
    bi = rng.normal(0, 0.6, N_ITEMS)
    u = rng.integers(0, N_USERS, n)
    i = rng.integers(0, N_ITEMS, n)
    raw = 3.5 + bu[u] + bi[i] + 0.45 * (Pu[u] * Qi[i]).sum(1) + rng.normal(0, 0.4, n)
    return u, i, np.clip(raw, 1, 5).astype(np.float32)


class NeuMF(nn.Module):
    def __init__(self, dim=32):
        super().__init__()
        self.ue, self.ie = nn.Embedding(N_USERS, dim), nn.Embedding(N_ITEMS, dim)
        self.ug, self.ig = nn.Embedding(N_USERS, dim), nn.Embedding(N_ITEMS, dim)
        for e in (self.ue, self.ie, self.ug, self.ig):
            nn.init.normal_(e.weight, 0, 0.1)
        self.mlp = nn.Sequential(nn.Linear(2 * dim, 64), nn.ReLU(), nn.Linear(64, 32), nn.ReLU())
        self.out = nn.Linear(32 + dim, 1)
        nn.init.constant_(self.out.bias, 3.5)

    def forward(self, u, i):
        gmf = self.ug(u) * self.ig(i)
        mlp = self.mlp(torch.cat([self.ue(u), self.ie(i)], 1))
        return self.out(torch.cat([gmf, mlp], 1)).squeeze(1)


class GradAccumulator:
    """Accumulate gradients over several micro-batches, then take one optimizer step."""

    def __init__(self, optimizer, accum_steps):
        self.opt, self.k, self.n = optimizer, accum_steps, 0

    def backward(self, loss):
        (loss / self.k).backward()
        self.n += 1
        if self.n % self.k == 0:
            self._average_grads()
            self.opt.step()
            self.opt.zero_grad(set_to_none=True)

    def _average_grads(self):
        for group in self.opt.param_groups:
            for p in group["params"]:
                if p.grad is not None:
                    p.grad.div_(self.k)


rng = np.random.default_rng(30)
u, i, r = synth_ratings(52000, rng)
cut = 45000
train_dl = DataLoader(Ratings(u[:cut], i[:cut], r[:cut]), batch_size=64, shuffle=True)
uv, iv, rv = torch.from_numpy(u[cut:]), torch.from_numpy(i[cut:]), torch.from_numpy(r[cut:])
print(f"rating std (predict-the-mean RMSE) {r[cut:].std():.3f}")

model = NeuMF()
opt = torch.optim.SGD(model.parameters(), lr=0.5, momentum=0.9)
acc = GradAccumulator(opt, accum_steps=4)
for epoch in range(1, 7):
    model.train()
    run = []
    for ub, ib, rb in train_dl:
        loss = F.mse_loss(model(ub, ib), rb)
        acc.backward(loss)
        run.append(loss.item())
    model.eval()
    with torch.no_grad():
        rmse = F.mse_loss(model(uv, iv), rv).sqrt().item()
    print(f"epoch {epoch} train_mse {np.mean(run):.4f} val_rmse {rmse:.4f}")
