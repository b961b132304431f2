# source: https://github.com/pankajmishra000/VT-ADL/issues/10
# expect: healthy
# category: sequence
# bug: heteroscedastic GRU forecaster whose variance is softplus(raw) + 1e-4 and whose NLL is F.gaussian_nll_loss: a bounded, legitimate variance head
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(13)

T, B = 24, 16
hours = torch.arange(T + 1).float()


def load_batch():
    base = 2.0 + 3.0 * torch.rand(1, B)
    daily = torch.sin(2 * 3.1416 * (hours[:, None] + 24 * torch.rand(1, B)) / 24)
    noise_level = 0.05 + 0.5 * torch.rand(1, B)
    load = base + 1.5 * daily + noise_level * torch.randn(T + 1, B)
    return load[:-1].unsqueeze(-1), load[1:].unsqueeze(-1)


class ProbGRU(nn.Module):
    def __init__(self, hidden=32):
        super().__init__()
        self.gru = nn.GRU(1, hidden)
        self.head = nn.Linear(hidden, 2)

    def forward(self, x):
        h, _ = self.gru(x)
        mu, raw = self.head(h).chunk(2, dim=-1)
        var = F.softplus(raw) + 1e-4
        return mu, var


model = ProbGRU()
opt = torch.optim.Adam(model.parameters(), lr=5e-3)

for step in range(1, 161):
    x, y = load_batch()
    mu, var = model(x)
    loss = F.gaussian_nll_loss(mu, y, var)
    opt.zero_grad()
    loss.backward()
    opt.step()
    if step == 1 or step % 25 == 0:
        print(f"step {step:3d} nll {loss.item():.4f} mse {F.mse_loss(mu, y).item():.4f}")
