# source: https://github.com/bartbussmann/BatchTopK/issues/4
# expect: healthy
# category: multi-loss
# bug: none — a SimSiam-style objective whose target branch is deliberately detached (stop-gradient), plus a small supervised probe term; both terms train
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(37)
n, d = 3000, 20
centers = torch.randn(6, d) * 1.5
lab = torch.randint(0, 6, (n,))
X = centers[lab] + 0.7 * torch.randn(n, d)


def augment(x):
    return x * (1 + 0.1 * torch.randn_like(x)) + 0.2 * torch.randn_like(x)


encoder = nn.Sequential(nn.Linear(d, 128), nn.BatchNorm1d(128), nn.ReLU(), nn.Linear(128, 32))
predictor = nn.Sequential(nn.Linear(32, 64), nn.ReLU(), nn.Linear(64, 32))
probe = nn.Linear(32, 6)
opt = torch.optim.Adam([*encoder.parameters(), *predictor.parameters(), *probe.parameters()], lr=1e-3)


def neg_cos(p, z):
    return -F.cosine_similarity(p, z.detach(), dim=1).mean()


for step in range(300):
    idx = torch.randint(0, 2500, (128,))
    x = X[idx]
    z1, z2 = encoder(augment(x)), encoder(augment(x))
    p1, p2 = predictor(z1), predictor(z2)
    ssl = 0.5 * neg_cos(p1, z2) + 0.5 * neg_cos(p2, z1)
    probe_loss = F.cross_entropy(probe(z1), lab[idx])
    loss = ssl + 0.5 * probe_loss
    opt.zero_grad()
    loss.backward()
    opt.step()
    if step % 30 == 0 or step == 299:
        encoder.eval()
        with torch.no_grad():
            acc = (probe(encoder(X[2500:])).argmax(1) == lab[2500:]).float().mean().item()
        encoder.train()
        print(f"step {step} ssl {ssl.item():.4f} probe {probe_loss.item():.4f} val acc {acc:.3f}")
