# source: https://github.com/irom-princeton/dppo/issues/14
# expect: diffusion-target-mismatch
# category: diffusion
# bug: the denoiser is used as an x0-predictor by the sampler, but the training loss compares its output with the added noise, so sampling turns noise into noise
import math
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(34)
n = 4000
angle = torch.rand(n) * 2 * math.pi
x0_all = torch.stack([torch.cos(angle), torch.sin(angle)], 1) + 0.05 * torch.randn(n, 2)

T = 50
betas = torch.linspace(1e-4, 0.2, T)
alphas = 1 - betas
alphas_bar = torch.cumprod(alphas, 0)
alphas_bar_prev = torch.cat([torch.ones(1), alphas_bar[:-1]])
post_c0 = betas * alphas_bar_prev.sqrt() / (1 - alphas_bar)
post_ct = (1 - alphas_bar_prev) * alphas.sqrt() / (1 - alphas_bar)
post_var = betas * (1 - alphas_bar_prev) / (1 - alphas_bar)


class Denoiser(nn.Module):
    def __init__(self):
        super().__init__()
        self.t_emb = nn.Embedding(T, 32)
        self.net = nn.Sequential(nn.Linear(2 + 32, 128), nn.SiLU(), nn.Linear(128, 128), nn.SiLU(), nn.Linear(128, 2))

    def forward(self, x, t):
        return self.net(torch.cat([x, self.t_emb(t)], 1))


def q_sample(x0, t, noise):
    ab = alphas_bar[t].unsqueeze(1)
    return ab.sqrt() * x0 + (1 - ab).sqrt() * noise


@torch.no_grad()
def sample(model, m):
    x = torch.randn(m, 2)
    for t in reversed(range(T)):
        tt = torch.full((m,), t, dtype=torch.long)
        x0_hat = model(x, tt).clamp(-2, 2)
        mean = post_c0[t] * x0_hat + post_ct[t] * x
        x = mean + (post_var[t].sqrt() * torch.randn_like(x) if t > 0 else 0)
    return x


model = Denoiser()
opt = torch.optim.Adam(model.parameters(), lr=2e-3)
for step in range(400):
    x0 = x0_all[torch.randint(0, n, (128,))]
    t = torch.randint(0, T, (128,))
    noise = torch.randn_like(x0)
    x_t = q_sample(x0, t, noise)
    x0_pred = model(x_t, t)
    loss = F.mse_loss(x0_pred, noise)
    opt.zero_grad()
    loss.backward()
    opt.step()
    if step % 40 == 0 or step == 399:
        print(f"step {step} loss {loss.item():.4f}")

s = sample(model, 1000)
print(f"samples: mean |radius - 1| = {(s.norm(dim=1) - 1).abs().mean().item():.3f}  (data: {(x0_all.norm(dim=1) - 1).abs().mean().item():.3f})")
