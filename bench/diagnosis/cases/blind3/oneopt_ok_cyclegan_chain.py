# source: https://github.com/junyanz/pytorch-CycleGAN-and-pix2pix/issues/1381
# expect: healthy
# category: gan
# bug: CycleGAN-style: itertools.chain joins the two generators in one Adam and the two discriminators in another; each player keeps its own optimizer
import itertools
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(2)


def domain_a(n):
    return torch.randn(n, 2) * torch.tensor([1.0, 0.3])


def domain_b(n):
    return torch.randn(n, 2) * torch.tensor([0.3, 1.0]) * 2 + torch.tensor([3.0, -1.0])


def mlp(i, o):
    return nn.Sequential(nn.Linear(i, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, o))


G_AB, G_BA = mlp(2, 2), mlp(2, 2)
D_A, D_B = mlp(2, 1), mlp(2, 1)
opt_G = torch.optim.Adam(itertools.chain(G_AB.parameters(), G_BA.parameters()), lr=2e-3, betas=(0.5, 0.999))
opt_D = torch.optim.Adam(itertools.chain(D_A.parameters(), D_B.parameters()), lr=2e-3, betas=(0.5, 0.999))
lambda_cyc = 1.0

for step in range(400):
    a, b = domain_a(128), domain_b(128)

    for p in itertools.chain(D_A.parameters(), D_B.parameters()):
        p.requires_grad_(False)
    fake_b, fake_a = G_AB(a), G_BA(b)
    adv = F.mse_loss(D_B(fake_b), torch.ones(128, 1)) + F.mse_loss(D_A(fake_a), torch.ones(128, 1))
    cyc = F.l1_loss(G_BA(fake_b), a) + F.l1_loss(G_AB(fake_a), b)
    loss_G = adv + lambda_cyc * cyc
    opt_G.zero_grad()
    loss_G.backward()
    opt_G.step()
    for p in itertools.chain(D_A.parameters(), D_B.parameters()):
        p.requires_grad_(True)

    loss_D = 0.5 * (F.mse_loss(D_B(b), torch.ones(128, 1)) + F.mse_loss(D_B(fake_b.detach()), torch.zeros(128, 1))
                    + F.mse_loss(D_A(a), torch.ones(128, 1)) + F.mse_loss(D_A(fake_a.detach()), torch.zeros(128, 1)))
    opt_D.zero_grad()
    loss_D.backward()
    opt_D.step()

    if step % 50 == 0 or step == 399:
        with torch.no_grad():
            fb = G_AB(domain_a(2000))
        print(f"step {step:3d}  loss_G {loss_G.item():.4f}  cyc {cyc.item():.4f}  loss_D {loss_D.item():.4f}  "
              f"fake_b mean [{fb[:, 0].mean().item():.2f}, {fb[:, 1].mean().item():.2f}] (real [3, -1])")
