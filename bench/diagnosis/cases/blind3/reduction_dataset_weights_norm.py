# source: https://github.com/chemprop/chemprop/issues/74
# expect: lr-too-low, loss-plateau, slow-convergence, underfitting
# category: tabular
# bug: the Dataset hands out sample weights already normalised to sum to 1 over the whole set, and the loop then takes the mean of weight*loss: the loss is divided by the dataset size and the batch size, so SGD barely moves
import torch
import torch.nn as nn
from torch.utils.data import Dataset, DataLoader

torch.manual_seed(5)


class ChurnData(Dataset):
    def __init__(self, n=3000):
        self.x = torch.randn(n, 12)
        logit = 1.8 * self.x[:, 0] - 1.2 * self.x[:, 3] + self.x[:, 5] * self.x[:, 7]
        self.y = (logit + 0.3 * torch.randn(n) > 0).float()
        region = (self.x[:, 11] > 0.5).long()
        counts = torch.bincount(region, minlength=2).float()
        w = (1.0 / counts)[region]
        self.w = w / w.sum()

    def __len__(self):
        return len(self.y)

    def __getitem__(self, i):
        return self.x[i], self.y[i], self.w[i]


ds = ChurnData()
loader = DataLoader(ds, batch_size=64, shuffle=True)
model = nn.Sequential(nn.Linear(12, 64), nn.Tanh(), nn.Linear(64, 64), nn.Tanh(), nn.Linear(64, 1))
bce = nn.BCEWithLogitsLoss(reduction="none")
opt = torch.optim.SGD(model.parameters(), lr=0.5)

step = 0
for epoch in range(6):
    hits = 0
    for xb, yb, wb in loader:
        logits = model(xb).squeeze(1)
        loss = (wb * bce(logits, yb)).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        hits += ((logits > 0).float() == yb).sum().item()
        step += 1
        if step % 40 == 1:
            print(f"step {step} weighted loss {loss.item():.3e} raw bce {bce(logits, yb).mean().item():.4f}")
    print(f"epoch {epoch} acc {hits / len(ds):.3f}")
