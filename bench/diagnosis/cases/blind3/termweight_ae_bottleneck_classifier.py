# source: https://github.com/felipecode/coiltraine/issues/37
# expect: loss-imbalance, metric-competing-losses
# category: multi-loss
# bug: a semi-supervised autoencoder whose 4-d code also feeds a classifier; the reconstruction is summed over 64 inputs and weighted 1.0 while the CE (mean) is weighted 0.1, so the code only keeps the high-variance directions and the label (carried by a low-variance direction) is never learned
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(18)

D, Z, N = 64, 4, 4096
# data: 6 strong latent factors + one weak factor that decides the label
basis = torch.linalg.qr(torch.randn(D, D))[0]
strong = torch.randn(N, 6) * torch.tensor([3.0, 2.5, 2.0, 2.0, 1.5, 1.5])
weak = torch.randn(N, 1) * 0.3
X = strong @ basis[:, :6].T + weak @ basis[:, 6:7].T + 0.05 * torch.randn(N, D)
labels = (weak.squeeze(1) > 0).long()


class SemiSupervisedAE(nn.Module):
    def __init__(self):
        super().__init__()
        self.encoder = nn.Sequential(nn.Linear(D, 128), nn.ReLU(), nn.Linear(128, Z))
        self.decoder = nn.Sequential(nn.Linear(Z, 128), nn.ReLU(), nn.Linear(128, D))
        self.classifier = nn.Linear(Z, 2)

    def forward(self, x):
        z = self.encoder(x)
        return self.decoder(z), self.classifier(z)


model = SemiSupervisedAE()
optimizer = torch.optim.Adam(model.parameters(), lr=2e-3)
recon_weight, cls_weight = 1.0, 0.1


def evaluate():
    with torch.no_grad():
        _, logits = model(X)
        return (logits.argmax(1) == labels).float().mean().item()


step = 0
for epoch in range(10):
    perm = torch.randperm(N)
    for i in range(0, N, 128):
        idx = perm[i:i + 128]
        x, y = X[idx], labels[idx]
        x_hat, logits = model(x)
        recon = F.mse_loss(x_hat, x, reduction="sum") / x.size(0)
        cls = F.cross_entropy(logits, y)
        loss = recon_weight * recon + cls_weight * cls
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        step += 1
        if step == 1 or step % 40 == 0:
            print(f"step {step} recon {recon.item():.3f} cls {cls.item():.4f} acc {evaluate():.3f}")
