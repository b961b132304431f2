# source: https://github.com/keras-team/keras/issues/10065
# expect: loss-imbalance, metric-competing-losses
# category: multi-loss
# bug: the reconstruction term is an unnormalised sum over every pixel of the batch (reduction='sum') added to a batch-mean cross-entropy, so the shared encoder serves reconstruction only and the classifier stays at chance
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(0)
SIDE = 16


def make_data(n):
    yy, xx = torch.meshgrid(torch.arange(SIDE), torch.arange(SIDE), indexing="ij")
    imgs = torch.zeros(n, SIDE * SIDE)
    for i in range(n):
        img = torch.zeros(SIDE, SIDE)
        for _ in range(2):
            cy, cx = torch.rand(2) * (SIDE - 1)
            amp = 2.0 + torch.rand(1)
            img += amp * torch.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / 6.0)
        imgs[i] = img.flatten()
    labels = torch.randint(0, 2, (n,))
    checker = (((yy + xx) % 2) * 2 - 1).float().flatten()
    imgs += 0.1 * (labels.float() * 2 - 1).unsqueeze(1) * checker
    imgs += 0.05 * torch.randn_like(imgs)
    return imgs, labels


class AEClassifier(nn.Module):
    def __init__(self, latent=4):
        super().__init__()
        self.encoder = nn.Sequential(nn.Linear(SIDE * SIDE, 128), nn.ReLU(), nn.Linear(128, latent))
        self.decoder = nn.Sequential(nn.Linear(latent, 128), nn.ReLU(), nn.Linear(128, SIDE * SIDE))
        self.classifier = nn.Linear(latent, 2)

    def forward(self, x):
        z = self.encoder(x)
        return self.decoder(z), self.classifier(z)


train_x, train_y = make_data(2048)
test_x, test_y = make_data(512)
model = AEClassifier()
optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)

for step in range(400):
    idx = torch.randint(0, len(train_x), (64,))
    xb, yb = train_x[idx], train_y[idx]
    recon, logits = model(xb)
    recon_loss = F.mse_loss(recon, xb, reduction="sum")
    cls_loss = F.cross_entropy(logits, yb)
    loss = recon_loss + cls_loss
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    if step % 40 == 0 or step == 399:
        with torch.no_grad():
            acc = (model(test_x)[1].argmax(1) == test_y).float().mean().item()
        print(f"step {step:3d}  loss {loss.item():10.2f}  recon {recon_loss.item():10.2f}  ce {cls_loss.item():.4f}  test_acc {acc:.3f}")
