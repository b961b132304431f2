# source: https://github.com/BUserName/Learning_to_diversify/issues/1
# expect: healthy
# category: multi-loss
# bug: none - the look-alike of the report done right: an auxiliary reconstruction term is ADDED with a deliberately small weight (0.05) to regularise the shared encoder; it is much smaller than the main loss on purpose and both terms fall
"""Classifier with a small-weight auxiliary reconstruction head, dict batches from a DataLoader."""
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset

torch.manual_seed(0)

N, D, C = 2000, 16, 4
centers = torch.randn(C, D) * 1.5
labels = torch.randint(0, C, (N,))
feats = centers[labels] + torch.randn(N, D)


class Records(Dataset):
    def __len__(self):
        return N

    def __getitem__(self, i):
        return {"x": feats[i], "y": labels[i]}


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.encoder = nn.Sequential(nn.Linear(D, 64), nn.ReLU(), nn.Linear(64, 32), nn.ReLU())
        self.cls = nn.Linear(32, C)
        self.dec = nn.Sequential(nn.Linear(32, 64), nn.ReLU(), nn.Linear(64, D))

    def forward(self, x):
        h = self.encoder(x)
        return self.cls(h), self.dec(h)


model = Net()
opt = torch.optim.Adam(model.parameters(), lr=1e-3)
AUX_WEIGHT = 0.05            # intentional: the reconstruction is only a regulariser
loader = DataLoader(Records(), batch_size=100, shuffle=True)

for epoch in range(8):
    s_tot = s_cls = s_rec = 0.0
    for batch in loader:
        logits, recon = model(batch["x"])
        cls_loss = F.cross_entropy(logits, batch["y"])
        rec_loss = F.mse_loss(recon, batch["x"])
        loss = cls_loss + AUX_WEIGHT * rec_loss
        opt.zero_grad()
        loss.backward()
        opt.step()
        s_tot += loss.item() / len(loader)
        s_cls += cls_loss.item() / len(loader)
        s_rec += rec_loss.item() / len(loader)
    print(f"epoch {epoch}  total {s_tot:.3f}  cls {s_cls:.3f}  recon {s_rec:.3f}")
