# source: https://github.com/line/open-universe/issues/5
# expect: game-shared-optimizer
# category: gan
# bug: WGAN on time series with one RMSprop over list(gen.parameters()) + list(critic.parameters()); the generator's -critic(fake) step also raises the critic's score of fakes
import math
import torch
import torch.nn as nn

torch.manual_seed(21)
T, B, NZ = 24, 32, 8


def real_series(b):
    t = torch.arange(T).float().unsqueeze(1)           # (T, 1)
    phase = torch.rand(1, b) * 2 * math.pi
    freq = 0.3 + 0.2 * torch.rand(1, b)
    return torch.sin(freq * t + phase).unsqueeze(-1)   # (T, B, 1) time-first


class SeqGen(nn.Module):
    def __init__(self):
        super().__init__()
        self.rnn = nn.GRU(NZ, 32)
        self.proj = nn.Linear(32, 1)

    def forward(self, z):            # z: (T, B, NZ)
        h, _ = self.rnn(z)
        return torch.tanh(self.proj(h))


class SeqCritic(nn.Module):
    def __init__(self):
        super().__init__()
        self.rnn = nn.GRU(1, 32)
        self.head = nn.Linear(32, 1)

    def forward(self, x):
        h, _ = self.rnn(x)
        return self.head(h[-1]).squeeze(-1)


def smoothness(x):
    # mean |x_t+1 - x_t|; real sines of these frequencies give ~0.25
    return (x[1:] - x[:-1]).abs().mean().item()


gen, critic = SeqGen(), SeqCritic()
opt = torch.optim.RMSprop(list(gen.parameters()) + list(critic.parameters()), lr=5e-4)

n_critic = 3
for it in range(100):
    for _ in range(n_critic):
        real = real_series(B)
        fake = gen(torch.randn(T, B, NZ)).detach()
        loss_c = critic(fake).mean() - critic(real).mean()
        opt.zero_grad()
        loss_c.backward()
        opt.step()
        for p in critic.parameters():
            p.data.clamp_(-0.05, 0.05)

    fake = gen(torch.randn(T, B, NZ))
    loss_g = -critic(fake).mean()
    opt.zero_grad()
    loss_g.backward()
    opt.step()

    if it % 10 == 0 or it == 99:
        with torch.no_grad():
            sample = gen(torch.randn(T, 256, NZ))
            w_est = (critic(real_series(256)).mean() - critic(sample).mean()).item()
        print(f"it {it:3d}  loss_c {loss_c.item():+.5f}  loss_g {loss_g.item():+.5f}  W est {w_est:+.5f}  "
              f"fake amp {sample.abs().mean().item():.3f} step {smoothness(sample):.3f} (real amp 0.637 step 0.25)")
