# source: https://github.com/Lightning-Universe/lightning-bolts/issues/320
# expect: healthy
# category: vision
# bug: healthy - hand-written InfoNCE with a low temperature, but on L2-normalised projections and with the max subtracted before exp (a correct log-sum-exp)
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(12)

def make_images(n):
    xs = torch.linspace(-1, 1, 16)
    gy, gx = torch.meshgrid(xs, xs, indexing="ij")
    cx, cy = torch.rand(n, 1, 1) * 2 - 1, torch.rand(n, 1, 1) * 2 - 1
    w = torch.rand(n, 1, 1) * 0.3 + 0.1
    return torch.exp(-((gx - cx) ** 2 + (gy - cy) ** 2) / w).reshape(n, -1)


pool = make_images(1024)


def jitter(x):
    gain = 1 + 0.05 * torch.randn(x.shape[0], 1)
    return gain * x + 0.02 * torch.randn_like(x)


encoder = nn.Sequential(
    nn.Linear(256, 256), nn.ReLU(),
    nn.Linear(256, 128), nn.ReLU(),
    nn.Linear(128, 64),
)


def contrastive_loss(a, b, tau=0.07):
    a = F.normalize(a, dim=1)
    b = F.normalize(b, dim=1)
    logits = a @ b.t() / tau
    m = logits.max(dim=1, keepdim=True).values.detach()
    lse = m.squeeze(1) + torch.log(torch.exp(logits - m).sum(dim=1))
    return (lse - logits.diagonal()).mean()


optimizer = torch.optim.Adam(encoder.parameters(), lr=3e-3)

for step in range(300):
    batch = pool[torch.randint(0, len(pool), (64,))]
    loss = contrastive_loss(encoder(jitter(batch)), encoder(jitter(batch)))
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    if step % 25 == 0:
        print(f"step {step:3d} loss {loss.item():.4f}")
print("final", loss.item())
