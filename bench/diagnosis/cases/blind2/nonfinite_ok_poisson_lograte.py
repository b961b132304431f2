# source: https://github.com/pytorch/pytorch/pull/1779
# expect: healthy
# category: sequence
# bug: healthy - GRU count forecaster predicts the log-rate and trains with PoissonNLLLoss(log_input=True); exp appears only inside the stable loss and when reporting rates
import torch
import torch.nn as nn

torch.manual_seed(21)

# daily call-centre volumes: weekly seasonality + slow trend, Poisson noise
n_series, L = 256, 40
days = torch.arange(L + 1).float()
base = torch.rand(n_series, 1) * 2 + 2.0
season = 0.5 * torch.sin(2 * 3.1416 * days / 7)[None]
trend = (torch.rand(n_series, 1) - 0.5) * 0.02 * days[None]
rates = torch.exp(base + season + trend)
counts = torch.poisson(rates)

hist = torch.log1p(counts[:, :L]).unsqueeze(-1)   # model input: log(1 + count), counts >= 0
target = counts[:, L]                              # next-day count


class Forecaster(nn.Module):
    def __init__(self, hidden=32):
        super().__init__()
        self.gru = nn.GRU(1, hidden, batch_first=True)
        self.out = nn.Linear(hidden, 1)

    def forward(self, x):
        h, _ = self.gru(x)
        return self.out(h[:, -1]).squeeze(-1)   # log-rate


model = Forecaster()
opt = torch.optim.Adam(model.parameters(), lr=5e-3)
crit = nn.PoissonNLLLoss(log_input=True, full=True)


def train(steps=250, bs=32):
    for step in range(steps):
        idx = torch.randint(0, n_series, (bs,))
        log_rate = model(hist[idx])
        loss = crit(log_rate, target[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % 25 == 0:
            with torch.no_grad():
                mae = (torch.exp(log_rate) - target[idx]).abs().mean()
            print(f"step {step:3d} poisson nll {loss.item():.3f}  mae {mae.item():.2f}")


train()
