# source: Ilse, Tomczak & Welling, "Attention-based Deep Multiple Instance Learning" (ICML 2018, github.com/AMLab-Amsterdam/AttentionDeepMIL); masked softmax written by hand for padded bags, with the max-subtraction trick from the CS231n "numeric stability" note
# expect: healthy
# category: classification
# bug: none - the attention weights are computed by hand with exp(), but the per-bag max is subtracted first (masked entries excluded), so exp() never sees arguments > 0 and cannot overflow; padding is masked out before normalising
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset

torch.manual_seed(10)
np.random.seed(10)

D_FEAT, MAX_BAG = 32, 40


class PatchBags(Dataset):
    """Slides as bags of patch embeddings; a slide is positive if it holds >= 1 tumour-like patch."""

    def __init__(self, n_bags, seed, centers):
        rng = np.random.default_rng(seed)
        self.bags, self.labels = [], []
        for _ in range(n_bags):
            size = rng.integers(8, MAX_BAG + 1)
            kinds = rng.integers(0, 4, size)                 # four benign tissue types
            x = centers[kinds] + rng.normal(0, 1.0, (size, D_FEAT))
            label = int(rng.random() < 0.5)
            if label:
                k = rng.integers(1, 4)
                pos = rng.choice(size, k, replace=False)
                x[pos] = centers[4] + rng.normal(0, 1.0, (k, D_FEAT))
            self.bags.append(x.astype(np.float32))
            self.labels.append(label)

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, i):
        return self.bags[i], self.labels[i]


def pad_collate(batch):
    sizes = [len(b) for b, _ in batch]
    x = torch.zeros(len(batch), max(sizes), D_FEAT)
    mask = torch.zeros(len(batch), max(sizes), dtype=torch.bool)
    for j, (b, _) in enumerate(batch):
        x[j, :len(b)] = torch.from_numpy(b)
        mask[j, :len(b)] = True
    return x, mask, torch.tensor([l for _, l in batch], dtype=torch.float32)


class AttentionMIL(nn.Module):
    def __init__(self, d=D_FEAT, h=64, a=32):
        super().__init__()
        self.embed = nn.Sequential(nn.Linear(d, h), nn.ReLU(), nn.Linear(h, h), nn.ReLU())
        self.att_V = nn.Linear(h, a)
        self.att_U = nn.Linear(h, a)
        self.att_w = nn.Linear(a, 1)
        self.cls = nn.Linear(h, 1)

    def attention(self, hid, mask):
        scores = self.att_w(torch.tanh(self.att_V(hid)) * torch.sigmoid(self.att_U(hid))).squeeze(-1)
        scores = scores.masked_fill(~mask, float("-inf"))
        scores = scores - scores.max(dim=1, keepdim=True).values
        w = torch.exp(scores)
        return w / w.sum(dim=1, keepdim=True)

    def forward(self, x, mask):
        hid = self.embed(x)
        a = self.attention(hid, mask)
        z = (a.unsqueeze(-1) * hid).sum(1)
        return self.cls(z).squeeze(-1), a


centers = np.random.default_rng(0).normal(0, 1.0, (5, D_FEAT)).astype(np.float32)
train_dl = DataLoader(PatchBags(1200, 1, centers), batch_size=16, shuffle=True, collate_fn=pad_collate)
val_x, val_m, val_y = pad_collate(list(PatchBags(300, 2, centers)))
model = AttentionMIL()
opt = torch.optim.Adam(model.parameters(), lr=5e-4, betas=(0.9, 0.999), weight_decay=1e-4)
for epoch in range(1, 7):
    model.train()
    tot = 0.0
    for x, m, y in train_dl:
        logit, _ = model(x, m)
        loss = F.binary_cross_entropy_with_logits(logit, y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        tot += loss.item() * len(y)
    model.eval()
    with torch.no_grad():
        vl, att = model(val_x, val_m)
        acc = ((vl > 0).float() == val_y).float().mean().item()
    print(f"epoch {epoch} bag_loss {tot / len(train_dl.dataset):.4f} val_acc {acc:.3f} max_attention {att.max().item():.2f}")
