# source: https://github.com/devnag/pytorch-generative-adversarial-networks/issues/14 ("Nothing is being detached, so does this train the discriminator?" - answer: only the optimizer that is stepped moves its own player)
# expect: healthy
# category: gan
# bug: none - G and D live in one ModuleDict and are zeroed together, and the generator loss does leave gradients in D, but each player is stepped ONLY by its own optimizer (opt_g over G params, opt_d over D params) and D's stale grads are cleared before its own backward; the game stays adversarial
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset

torch.manual_seed(14)

# 2-D toy target: a 3x3 grid of tight Gaussian blobs
CENTERS = torch.tensor([[x, y] for x in (-2.0, 0.0, 2.0) for y in (-2.0, 0.0, 2.0)])


def sample_grid(n):
    return CENTERS[torch.randint(0, 9, (n,))] + 0.08 * torch.randn(n, 2)


loader = DataLoader(TensorDataset(sample_grid(40000)), batch_size=128, shuffle=True, drop_last=True)

Z = 8
gan = nn.ModuleDict({
    "G": nn.Sequential(nn.Linear(Z, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 2)),
    "D": nn.Sequential(nn.Linear(2, 64), nn.LeakyReLU(0.2), nn.Linear(64, 64), nn.LeakyReLU(0.2), nn.Linear(64, 1)),
})
opt_g = torch.optim.Adam(gan["G"].parameters(), lr=1e-3, betas=(0.5, 0.999))
opt_d = torch.optim.Adam(gan["D"].parameters(), lr=1e-3, betas=(0.5, 0.999))


def grid_stats(n=3000):
    with torch.no_grad():
        x = gan["G"](torch.randn(n, Z))
    d = torch.cdist(x, CENTERS)
    near = d.min(1).values < 0.3
    return near.float().mean().item(), torch.unique(d.argmin(1)[near]).numel()


for epoch in range(1, 7):
    for (real,) in loader:
        # generator update
        gan.zero_grad(set_to_none=True)
        fake = gan["G"](torch.randn(real.shape[0], Z))
        logit_fake = gan["D"](fake)
        g_loss = F.binary_cross_entropy_with_logits(logit_fake, torch.ones_like(logit_fake))
        g_loss.backward()
        opt_g.step()

        # discriminator update
        gan.zero_grad(set_to_none=True)
        logit_real = gan["D"](real)
        logit_fake = gan["D"](fake.detach())
        d_loss = F.binary_cross_entropy_with_logits(logit_real, torch.ones_like(logit_real)) + \
            F.binary_cross_entropy_with_logits(logit_fake, torch.zeros_like(logit_fake))
        d_loss.backward()
        opt_d.step()
    frac, blobs = grid_stats()
    print(f"epoch {epoch:2d}  d_loss {d_loss.item():.4f}  g_loss {g_loss.item():.4f}  "
          f"samples on a blob {frac:.2f}  blobs covered {blobs}/9")
