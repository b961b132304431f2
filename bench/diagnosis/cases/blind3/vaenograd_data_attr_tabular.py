# source: https://github.com/nicola-decao/s-vae-pytorch/issues/9
# expect: graph-break
# category: tabular
# bug: z = mu.data + eps * std.data in a tabular VAE: .data strips the graph, so the encoder only ever sees the KL and collapses to the prior
import torch
import torch.nn as nn

torch.manual_seed(8)

# 12 correlated numeric columns generated from 3 hidden factors
n = 4000
factors = torch.randn(n, 3)
mixing = torch.randn(3, 12)
table = torch.tanh(factors @ mixing) + 0.05 * torch.randn(n, 12)
table = (table - table.mean(0)) / table.std(0)


class TabularVAE(nn.Module):
    def __init__(self, d_in=12, d_lat=3):
        super().__init__()
        self.encoder = nn.Sequential(nn.Linear(d_in, 64), nn.ELU(), nn.Linear(64, 2 * d_lat))
        self.decoder = nn.Sequential(nn.Linear(d_lat, 64), nn.ELU(), nn.Linear(64, d_in))

    def forward(self, x):
        mu, log_var = self.encoder(x).chunk(2, dim=1)
        std = (0.5 * log_var).exp()
        eps = torch.randn_like(std)
        z = mu.data + eps * std.data
        return self.decoder(z), mu, log_var


def train(model, data, steps=300, batch=256):
    opt = torch.optim.RMSprop(model.parameters(), lr=1e-3)
    for step in range(steps):
        rows = data[torch.randint(0, len(data), (batch,))]
        recon, mu, log_var = model(rows)
        mse = ((recon - rows) ** 2).sum(1).mean()
        kl = 0.5 * (mu.pow(2) + log_var.exp() - 1 - log_var).sum(1).mean()
        loss = mse + kl
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % 25 == 0 or step == steps - 1:
            print(f"[{step:03d}] elbo loss={loss.item():.3f} mse={mse.item():.3f} kl={kl.item():.3f}")


train(TabularVAE(), table)
