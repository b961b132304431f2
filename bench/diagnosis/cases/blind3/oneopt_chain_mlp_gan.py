# source: https://github.com/eriklindernoren/Keras-GAN/issues/128
# expect: game-shared-optimizer
# category: gan
# bug: one Adam built on itertools.chain(G, D) is stepped after the generator's loss, so D is also pushed to call fakes real
import itertools
import torch
import torch.nn as nn

torch.manual_seed(0)

def real_batch(n):
    return 4.0 + 1.25 * torch.randn(n, 1)

G = nn.Sequential(nn.Linear(8, 32), nn.ReLU(), nn.Linear(32, 32), nn.ReLU(), nn.Linear(32, 1))
D = nn.Sequential(nn.Linear(1, 32), nn.LeakyReLU(0.2), nn.Linear(32, 32), nn.LeakyReLU(0.2), nn.Linear(32, 1))

criterion = nn.BCEWithLogitsLoss()
optimizer = torch.optim.Adam(itertools.chain(G.parameters(), D.parameters()), lr=2e-3, betas=(0.5, 0.999))

batch = 64
for step in range(400):
    real = real_batch(batch)
    z = torch.randn(batch, 8)
    fake = G(z)

    optimizer.zero_grad()
    d_real = D(real)
    d_fake = D(fake.detach())
    d_loss = criterion(d_real, torch.ones_like(d_real)) + criterion(d_fake, torch.zeros_like(d_fake))
    d_loss.backward()
    optimizer.step()

    optimizer.zero_grad()
    g_out = D(fake)
    g_loss = criterion(g_out, torch.ones_like(g_out))
    g_loss.backward()
    optimizer.step()

    if step % 50 == 0 or step == 399:
        with torch.no_grad():
            s = G(torch.randn(2000, 8))
        print(f"step {step:4d}  d_loss {d_loss.item():.4f}  g_loss {g_loss.item():.4f}  "
              f"fake mean {s.mean().item():.3f} std {s.std().item():.3f}  (real 4.000 / 1.250)")
