# source: https://github.com/Linear95/CLUB/issues/27
# expect: nonfinite-forward, loss-divergence, nonfinite-backward
# category: sequence
# bug: the model's forward returns torch.exp(head(h)) as the hourly request rate with no bound; a burst of large counts pushes the raw output up, exp overflows to inf and poisson_nll_loss(log_input=False) goes NaN
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(10)

T, B = 36, 24


def traffic_batch():
    # requests per hour, time-first (T, B); a few services get bursts
    hour = torch.arange(T + 1).float()[:, None]
    level = torch.exp(2.0 + 2.5 * torch.rand(1, B))
    shape = 1.0 + 0.6 * torch.sin(2 * 3.1416 * hour / 24 + torch.rand(1, B) * 6.28)
    burst = (torch.rand(T + 1, B) < 0.03).float() * 20.0
    counts = torch.poisson(level * shape * (1 + burst))
    x = torch.log1p(counts[:-1]).unsqueeze(-1)
    return x, counts[1:]


class RateGRU(nn.Module):
    def __init__(self, hidden=32):
        super().__init__()
        self.gru = nn.GRU(1, hidden)
        self.head = nn.Linear(hidden, 1)

    def forward(self, x):
        h, _ = self.gru(x)
        return torch.exp(self.head(h)).squeeze(-1)


model = RateGRU()
optimizer = torch.optim.SGD(model.parameters(), lr=0.005, momentum=0.9)

for step in range(1, 201):
    x, y = traffic_batch()
    rate = model(x)
    loss = F.poisson_nll_loss(rate, y, log_input=False)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    if step <= 5 or step % 20 == 0:
        print(f"step {step:3d} poisson nll {loss.item():.3f} max rate {rate.max().item():.3g}")
