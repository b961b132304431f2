# source: https://newbetuts.com/60533150-what-is-the-difference-between-sample-and-rsample
# expect: healthy
# category: vae
# bug: training draws the latent with Normal(mu, std).rsample(); .sample() under torch.no_grad(), .detach() and .numpy() appear only when generating and logging latent statistics
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.distributions import Normal

torch.manual_seed(0)

N = 3000
rows = torch.randint(0, 8, (N,))
cols = torch.randint(0, 8, (N,))
images = torch.zeros(N, 8, 8)
images[torch.arange(N), rows, :] = 1.0
images[torch.arange(N), :, cols] = 1.0
data = images.view(N, 64)


class VAE(nn.Module):
    def __init__(self, zdim=4):
        super().__init__()
        self.zdim = zdim
        self.enc = nn.Sequential(nn.Linear(64, 128), nn.ReLU())
        self.stats = nn.Linear(128, 2 * zdim)
        self.dec = nn.Sequential(nn.Linear(zdim, 128), nn.ReLU(), nn.Linear(128, 64))

    def posterior(self, x):
        mu, logvar = self.stats(self.enc(x)).chunk(2, -1)
        return Normal(mu, torch.exp(0.5 * logvar))

    def forward(self, x):
        q = self.posterior(x)
        z = q.rsample()
        return self.dec(z), q


model = VAE()
optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
prior = Normal(torch.zeros(4), torch.ones(4))

for step in range(400):
    x = data[torch.randint(0, N, (128,))]
    logits, q = model(x)
    recon = F.binary_cross_entropy_with_logits(logits, x, reduction="sum") / x.size(0)
    kl = torch.distributions.kl_divergence(q, prior).sum(-1).mean()
    loss = recon + kl
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    if step % 50 == 0 or step == 399:
        with torch.no_grad():
            samples = torch.sigmoid(model.dec(prior.sample((256,))))
            ink = samples.sum(1).mean().item()
        mu_np = q.loc.detach().numpy()
        active = int((np.var(mu_np, axis=0) > 0.01).sum())
        print(f"step {step} loss {loss.item():.3f} recon {recon.item():.3f} kl {kl.item():.3f} "
              f"active dims {active} sample ink {ink:.2f}")
