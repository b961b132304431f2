# source: https://github.com/BUserName/Learning_to_diversify/issues/1
# expect: loss-sign-flipped, loss-conflict
# category: multi-loss
# bug: the autoencoder's auxiliary reconstruction term is subtracted instead of added, so the optimizer maximises it and the total loss runs away negative
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(31)
n, d, k = 2048, 32, 8
basis = torch.randn(k, d)
codes = torch.relu(torch.randn(n, k))
data = codes @ basis + 0.05 * torch.randn(n, d)


class SparseAE(nn.Module):
    def __init__(self, hidden=64):
        super().__init__()
        self.enc = nn.Linear(d, hidden)
        self.dec = nn.Linear(hidden, d)
        self.aux_dec = nn.Linear(hidden, d)

    def forward(self, x):
        z = torch.relu(self.enc(x))
        return z, self.dec(z), self.aux_dec(z)


ae = SparseAE()
opt = torch.optim.Adam(ae.parameters(), lr=1e-3)
aux_coeff = 1 / 32
l1_coeff = 1e-3
for step in range(300):
    x = data[torch.randint(0, n, (128,))]
    z, recon, aux = ae(x)
    recon_loss = F.mse_loss(recon, x)
    aux_loss = F.mse_loss(aux, x - recon.detach())
    sparsity = z.abs().sum(1).mean()
    loss = recon_loss + l1_coeff * sparsity - aux_coeff * aux_loss
    opt.zero_grad()
    loss.backward()
    opt.step()
    if step % 30 == 0 or step == 299:
        print(f"step {step} total {loss.item():.4f} recon {recon_loss.item():.4f} aux {aux_loss.item():.4f}")
