# source: Asperti & Trentin, "Balancing reconstruction error and Kullback-Leibler divergence in Variational Autoencoders" (arXiv:2002.07514) - the recon/KL balance; here broken by the common pattern of a mean-reduced nn.MSELoss() added to a batch- and latent-summed KL term
# expect: loss-imbalance, over-regularization
# category: vae
# bug: reconstruction uses nn.MSELoss() averaged over batch*length while the KL is summed over batch and latents, an effective beta of ~B*L; the KL drowns reconstruction, the posterior collapses and every signal decodes to the dataset mean
import math
import numpy as np
import torch
import torch.nn as nn

np.random.seed(3)
torch.manual_seed(3)

SEQ_LEN = 128
LATENT = 8


def synth_beats(n, rng):
    """Heartbeat-like windows: a P wave, a QRS spike and a T wave whose
    positions, widths and amplitudes vary from window to window."""
    t = np.linspace(0, 1, SEQ_LEN)[None, :]
    g = lambda c, w, a: a * np.exp(-0.5 * ((t - c) / w) ** 2)
    qrs_c = rng.uniform(0.3, 0.7, (n, 1))
    x = (g(qrs_c - rng.uniform(0.12, 0.2, (n, 1)), 0.03, rng.uniform(0.1, 0.3, (n, 1)))
         + g(qrs_c, rng.uniform(0.008, 0.02, (n, 1)), rng.uniform(0.8, 1.4, (n, 1)))
         + g(qrs_c + rng.uniform(0.18, 0.28, (n, 1)), 0.05, rng.uniform(0.2, 0.5, (n, 1)))
         + 0.2 * np.sin(2 * math.pi * rng.uniform(0.2, 1.0, (n, 1)) * t + rng.uniform(0, 6.28, (n, 1)))
         + 0.02 * rng.randn(n, SEQ_LEN))
    return x.astype(np.float32)


class ConvVAE(nn.Module):
    def __init__(self):
        super().__init__()
        self.enc = nn.Sequential(
            nn.Conv1d(1, 16, 5, stride=2, padding=2), nn.ReLU(),   # 64
            nn.Conv1d(16, 32, 5, stride=2, padding=2), nn.ReLU(),  # 32
            nn.Conv1d(32, 32, 5, stride=2, padding=2), nn.ReLU(),  # 16
            nn.Flatten(),
        )
        self.mu = nn.Linear(32 * 16, LATENT)
        self.logvar = nn.Linear(32 * 16, LATENT)
        self.fc = nn.Linear(LATENT, 32 * 16)
        self.dec = nn.Sequential(
            nn.ReLU(),
            nn.ConvTranspose1d(32, 32, 4, stride=2, padding=1), nn.ReLU(),
            nn.ConvTranspose1d(32, 16, 4, stride=2, padding=1), nn.ReLU(),
            nn.ConvTranspose1d(16, 1, 4, stride=2, padding=1),
        )

    def encode(self, x):
        h = self.enc(x)
        return self.mu(h), self.logvar(h)

    def decode(self, z):
        return self.dec(self.fc(z).view(-1, 32, 16))

    def forward(self, x):
        mu, logvar = self.encode(x)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
        return self.decode(z), mu, logvar


class ELBOLoss(nn.Module):
    def __init__(self, beta=1.0):
        super().__init__()
        self.beta = beta
        self.recon = nn.MSELoss()

    def forward(self, x_hat, x, mu, logvar):
        rec = self.recon(x_hat, x)
        kld = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
        return rec + self.beta * kld, rec, kld


rng = np.random.RandomState(0)
train_np, val_np = synth_beats(4000, rng), synth_beats(800, rng)
mean, std = train_np.mean(), train_np.std()
train_x = torch.from_numpy((train_np - mean) / std).unsqueeze(1)
val_x = torch.from_numpy((val_np - mean) / std).unsqueeze(1)

model = ConvVAE()
criterion = ELBOLoss(beta=1.0)
optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
BATCH = 64

step = 0
for epoch in range(8):
    perm = torch.randperm(len(train_x))
    model.train()
    for s in range(0, len(train_x), BATCH):
        xb = train_x[perm[s:s + BATCH]]
        x_hat, mu, logvar = model(xb)
        loss, rec, kld = criterion(x_hat, xb, mu, logvar)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        step += 1
        if step % 100 == 0:
            print(f"step {step:5d}  loss {loss.item():.4f}  recon {rec.item():.4f}  kl {kld.item():.4f}")
    model.eval()
    with torch.no_grad():
        mu, _ = model.encode(val_x)
        val_mse = ((model.decode(mu) - val_x) ** 2).mean().item()
    print(f"epoch {epoch:2d}  val recon mse (posterior mean) {val_mse:.4f}  signal var {val_x.var().item():.4f}")
