# source: https://github.com/facebookresearch/denoiser/issues/45
# expect: targets-displaced, labels-decoupled
# category: regression
# bug: the collate function applies a random circular time shift to the noisy signals only, so the denoiser must output a clean signal displaced from the one it was given
import math
import torch
import torch.nn as nn
from torch.utils.data import Dataset, DataLoader

torch.manual_seed(7)
LENGTH = 64


class SignalPairs(Dataset):
    def __init__(self, n=1024):
        t = torch.linspace(0, 1, LENGTH)
        freqs = torch.randint(1, 6, (n, 1)).float()
        phase = torch.rand(n, 1) * 2 * math.pi
        amp = 0.5 + torch.rand(n, 1)
        steps = (torch.rand(n, 1) > 0.5).float() * (t > torch.rand(n, 1)).float()
        self.clean = amp * torch.sin(2 * math.pi * freqs * t + phase) + steps
        self.noisy = self.clean + 0.3 * torch.randn_like(self.clean)

    def __len__(self):
        return self.clean.size(0)

    def __getitem__(self, i):
        return self.noisy[i], self.clean[i]


def shift_collate(batch, max_shift=8):
    noisy, clean = zip(*batch)
    noisy = torch.stack(noisy)
    clean = torch.stack(clean)
    shifts = torch.randint(-max_shift, max_shift + 1, (noisy.size(0),))
    noisy = torch.stack([torch.roll(s, int(k)) for s, k in zip(noisy, shifts)])
    return noisy.unsqueeze(1), clean.unsqueeze(1)


class Denoiser(nn.Module):
    def __init__(self, ch=32):
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv1d(1, ch, 7, padding=3), nn.ReLU(),
            nn.Conv1d(ch, ch, 7, padding=3), nn.ReLU(),
            nn.Conv1d(ch, 1, 7, padding=3),
        )

    def forward(self, x):
        return x + self.net(x)


loader = DataLoader(SignalPairs(), batch_size=32, shuffle=True, collate_fn=shift_collate)
model = Denoiser()
opt = torch.optim.RMSprop(model.parameters(), lr=5e-4)
loss_fn = nn.MSELoss()
step = 0
for epoch in range(8):
    for noisy, clean in loader:
        loss = loss_fn(model(noisy), clean)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % 50 == 0:
            print(f"epoch {epoch} step {step} mse {loss.item():.4f}")
        step += 1
print(f"final mse {loss.item():.4f}")
