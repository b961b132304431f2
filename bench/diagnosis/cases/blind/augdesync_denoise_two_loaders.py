# source: https://github.com/bigmb/Unet-Segmentation-Pytorch-Nest-of-Unets/pull/30
# expect: labels-decoupled, targets-displaced
# category: regression
# bug: paired noisy/clean audio clips are served by two separate DataLoaders, each with shuffle=True, and zipped, so every noisy clip is paired with some other clip's clean version
import math
import torch
import torch.nn as nn
from torch.utils.data import DataLoader

torch.manual_seed(0)
L = 128


def clips(n):
    t = torch.linspace(0, 1, L)
    f = 3 + 10 * torch.rand(n, 1)
    a = 0.5 + torch.rand(n, 1)
    ph = 2 * math.pi * torch.rand(n, 1)
    clean = a * torch.sin(2 * math.pi * f * t + ph)
    noisy = clean + 0.4 * torch.randn(n, L)
    return noisy.unsqueeze(1), clean.unsqueeze(1)


noisy, clean = clips(2048)
noisy_loader = DataLoader(noisy, batch_size=32, shuffle=True)
clean_loader = DataLoader(clean, batch_size=32, shuffle=True)


class Denoiser(nn.Module):
    def __init__(self, ch=32):
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv1d(1, ch, 9, padding=4), nn.ReLU(),
            nn.Conv1d(ch, ch, 9, padding=4), nn.ReLU(),
            nn.Conv1d(ch, 1, 9, padding=4),
        )

    def forward(self, x):
        return x + self.net(x)


model = Denoiser()
opt = torch.optim.Adam(model.parameters(), lr=1e-3)
mse = nn.MSELoss()

step = 0
for epoch in range(4):
    epoch_loss = 0.0
    for x, y in zip(noisy_loader, clean_loader):
        loss = mse(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        epoch_loss += loss.item()
        if step % 40 == 0:
            print(f"step {step} loss {loss.item():.4f}")
        step += 1
    print(f"epoch {epoch}: avg loss {epoch_loss / len(noisy_loader):.4f}")
