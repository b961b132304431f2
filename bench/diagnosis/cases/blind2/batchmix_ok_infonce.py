# source: https://github.com/pytorch/pytorch/issues/63560
# expect: healthy
# category: classification
# bug: none — a two-tower retrieval model whose InfoNCE loss compares each query with every item in the batch (cross-sample by design in the loss), while each tower's outputs depend only on their own sample
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(38)
n_items, d = 500, 16
item_feats = torch.randn(n_items, d)
M = torch.randn(d, d) / d ** 0.5


def queries_for(ids):
    return item_feats[ids] @ M + 0.3 * torch.randn(len(ids), d)


query_tower = nn.Sequential(nn.Linear(d, 64), nn.ReLU(), nn.Linear(64, 32))
item_tower = nn.Sequential(nn.Linear(d, 64), nn.ReLU(), nn.Linear(64, 32))
opt = torch.optim.Adam([*query_tower.parameters(), *item_tower.parameters()], lr=2e-3)
temperature = 0.1

for step in range(300):
    ids = torch.randperm(n_items)[:64]
    q = F.normalize(query_tower(queries_for(ids)), dim=1)
    k = F.normalize(item_tower(item_feats[ids]), dim=1)
    logits = q @ k.t() / temperature
    loss = F.cross_entropy(logits, torch.arange(len(ids)))
    opt.zero_grad()
    loss.backward()
    opt.step()
    if step % 30 == 0 or step == 299:
        with torch.no_grad():
            all_k = F.normalize(item_tower(item_feats), dim=1)
            test_ids = torch.arange(100)
            sims = F.normalize(query_tower(queries_for(test_ids)), dim=1) @ all_k.t()
            r1 = (sims.argmax(1) == test_ids).float().mean().item()
        print(f"step {step} loss {loss.item():.4f} recall@1 over 500 items {r1:.3f}")
