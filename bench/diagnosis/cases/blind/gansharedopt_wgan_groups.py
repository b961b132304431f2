# source: https://github.com/junyanz/pytorch-CycleGAN-and-pix2pix/issues/1381
# expect: game-shared-optimizer
# category: gan
# bug: a WGAN whose critic and generator are two param groups of ONE RMSprop; the critic steps run the generator forward without detaching, and the generator step also moves the critic
import torch
import torch.nn as nn

torch.manual_seed(8)

# target: a 1-D mixture of two gaussians at -3 and +3
def real_samples(n):
    sign = torch.randint(0, 2, (n, 1)).float() * 2 - 1
    return 3.0 * sign + 0.4 * torch.randn(n, 1)


class Net(nn.Module):
    def __init__(self, d_in, d_out, hidden=48):
        super().__init__()
        self.f = nn.Sequential(nn.Linear(d_in, hidden), nn.Tanh(), nn.Linear(hidden, hidden), nn.Tanh(), nn.Linear(hidden, d_out))

    def forward(self, x):
        return self.f(x)


netG = Net(2, 1)
netC = Net(1, 1)
optimizer = torch.optim.RMSprop([
    {"params": netG.parameters(), "lr": 5e-4},
    {"params": netC.parameters(), "lr": 5e-4},
])

n_critic, clip, bs = 5, 0.05, 128
for it in range(80):
    for _ in range(n_critic):
        x = real_samples(bs)
        z = torch.randn(bs, 2)
        loss_c = netC(netG(z)).mean() - netC(x).mean()
        optimizer.zero_grad()
        loss_c.backward()
        optimizer.step()
        for p in netC.parameters():
            p.data.clamp_(-clip, clip)

    z = torch.randn(bs, 2)
    loss_g = -netC(netG(z)).mean()
    optimizer.zero_grad()
    loss_g.backward()
    optimizer.step()

    if it % 10 == 0 or it == 79:
        with torch.no_grad():
            s = netG(torch.randn(2000, 2))
            far = (s.abs() - 3).abs().mean().item()
        print(f"iter {it:2d} critic {loss_c.item():+.4f} gen {loss_g.item():+.4f} "
              f"fake mean {s.mean().item():+.2f} std {s.std().item():.2f} dist-to-modes {far:.2f}")
