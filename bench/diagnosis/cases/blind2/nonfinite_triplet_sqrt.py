# source: https://github.com/pytorch/pytorch/issues/2421
# expect: nonfinite-backward
# category: vision
# bug: batch-hard triplet loss builds the pairwise distance matrix as sqrt(sum((a-b)^2)); the diagonal is exactly 0, sqrt's gradient there is inf, and masking it multiplies 0*inf = NaN into every weight
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(3)

N_ID = 10
protos = torch.randn(N_ID, 1, 12, 12)


def sample_batch(n_ids=8, per_id=4):
    ids = torch.randperm(N_ID)[:n_ids].repeat_interleave(per_id)
    imgs = protos[ids] + 0.6 * torch.randn(len(ids), 1, 12, 12)
    return imgs, ids


class Embedder(nn.Module):
    def __init__(self, dim=16):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 16, 3, padding=1)
        self.conv2 = nn.Conv2d(16, 32, 3, padding=1)
        self.fc = nn.Linear(32 * 3 * 3, dim)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        return self.fc(x.flatten(1))


def pairwise_dist(emb):
    diff = emb.unsqueeze(1) - emb.unsqueeze(0)
    return (diff ** 2).sum(-1).sqrt()


def batch_hard_triplet(emb, labels, margin=0.5):
    d = pairwise_dist(emb)
    same = labels.unsqueeze(0) == labels.unsqueeze(1)
    eye = torch.eye(len(labels), dtype=torch.bool)
    pos_mask = (same & ~eye).float()
    neg_mask = (~same).float()
    hardest_pos = (d * pos_mask).max(1).values
    hardest_neg = (d + 1e6 * (1 - neg_mask)).min(1).values
    return F.relu(hardest_pos - hardest_neg + margin).mean()


net = Embedder()
opt = torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.9)

for it in range(200):
    imgs, ids = sample_batch()
    loss = batch_hard_triplet(net(imgs), ids)
    opt.zero_grad()
    loss.backward()
    opt.step()
    if it % 20 == 0:
        print(f"iter {it:3d} triplet loss {loss.item():.4f}  |W_fc| {net.fc.weight.norm().item():.3f}")
print("last loss", loss.item())
