# source: https://github.com/mattragoza/LiGAN/issues/18
# expect: capacity-bottleneck, cannot-overfit-batch, underfitting
# category: regression
# bug: the autoencoder's latent layer has width 1 while the data vary along 4 independent factors; below the data's intrinsic dimension the reconstruction loss cannot go down further
"""Dense autoencoder for 24-dim sensor readings."""
import numpy as np
import torch
import torch.nn as nn

torch.manual_seed(3)
rng = np.random.default_rng(3)

N, D, K = 2048, 24, 4
factors = rng.standard_normal((N, K)).astype(np.float32)
mix1 = rng.standard_normal((K, 32)).astype(np.float32) / np.sqrt(K)
mix2 = rng.standard_normal((32, D)).astype(np.float32) / np.sqrt(32)
X = (factors @ mix1) @ mix2 + 0.05 * rng.standard_normal((N, D)).astype(np.float32)
X = (X - X.mean(0)) / X.std(0)
X = torch.from_numpy(X.astype(np.float32))

LATENT = 1   # BUG: the data have 4 degrees of freedom


class AutoEncoder(nn.Module):
    def __init__(self, d, latent):
        super().__init__()
        self.enc = nn.Sequential(nn.Linear(d, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, latent))
        self.dec = nn.Sequential(nn.Linear(latent, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, d))

    def forward(self, x):
        return self.dec(self.enc(x))


model = AutoEncoder(D, LATENT)
opt = torch.optim.Adam(model.parameters(), lr=2e-3)
mse = nn.MSELoss()

for epoch in range(30):
    perm = torch.randperm(N)
    tot = 0.0
    for i in range(0, N, 128):
        xb = X[perm[i:i + 128]]
        loss = mse(model(xb), xb)
        opt.zero_grad()
        loss.backward()
        opt.step()
        tot += loss.item() * len(xb)
    if epoch % 5 == 0 or epoch == 29:
        print(f"epoch {epoch:2d}  reconstruction mse {tot / N:.4f}  (data variance 1.0)")
