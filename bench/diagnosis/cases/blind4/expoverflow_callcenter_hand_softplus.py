# source: Stack Overflow "Softplus implemented as log(1 + exp(x)) gives inf / nan" and PyTorch forum "NaN in Poisson loss with custom softplus" — the numerically naive softplus (torch.nn.functional.softplus switches to the identity above threshold=20 for exactly this reason)
# expect: nonfinite-forward, nonfinite-backward
# category: sequence
# bug: ArrivalForecaster.rate() uses a hand-written softplus torch.log(1 + torch.exp(z)) on the unbounded GRU head; hourly call volumes reach several hundred so z has to grow past ~88, where exp(z) overflows to inf, the rate and its gradient (inf/inf) become NaN and the weights are destroyed
import numpy as np
import torch
import torch.nn as nn

torch.manual_seed(17)
np.random.seed(17)

HIST = 24               # one day of hourly history


def call_volumes(n_hours, rng):
    h = np.arange(n_hours)
    hour, dow = h % 24, (h // 24) % 7
    business = np.exp(-0.5 * ((hour - 11) / 3.0) ** 2) + 0.7 * np.exp(-0.5 * ((hour - 16) / 2.0) ** 2)
    level = 40 + 420 * business * np.where(dow < 5, 1.0, 0.35)
    trend = 1 + 0.15 * np.sin(2 * np.pi * h / (24 * 30))
    lam = level * trend * np.exp(np.cumsum(rng.normal(0, 0.01, n_hours)) * 0.3)
    return rng.poisson(lam).astype(np.float32)


def build_samples(series):
    X, Y = [], []
    hours = np.arange(len(series))
    for t in range(HIST, len(series)):
        past = series[t - HIST:t] / 100.0
        hod = hours[t - HIST:t] % 24
        feats = np.stack([past, np.sin(2 * np.pi * hod / 24), np.cos(2 * np.pi * hod / 24)], 1)
        X.append(feats)
        Y.append(series[t])
    return torch.tensor(np.array(X), dtype=torch.float32), torch.tensor(np.array(Y), dtype=torch.float32)


class ArrivalForecaster(nn.Module):
    def __init__(self, hidden=64):
        super().__init__()
        self.gru = nn.GRU(3, hidden, batch_first=True)
        self.head = nn.Sequential(nn.Linear(hidden, hidden), nn.ReLU(), nn.Linear(hidden, 1))

    def rate(self, z):
        return torch.log(1 + torch.exp(z))

    def forward(self, x):
        _, h = self.gru(x)
        return self.rate(self.head(h[-1]).squeeze(-1))


rng = np.random.default_rng(17)
series = call_volumes(24 * 120, rng)
X, Y = build_samples(series)
split = int(0.8 * len(X))
Xtr, Ytr, Xva, Yva = X[:split], Y[:split], X[split:], Y[split:]
print(f"samples {len(X)}, hourly calls mean {Y.mean():.0f}, max {Y.max():.0f}")



def fit(model, epochs=10, bs=32, lr=3e-3):
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)
    nll = nn.PoissonNLLLoss(log_input=False, full=False)
    for epoch in range(1, epochs + 1):
        model.train()
        losses = []
        for idx in torch.split(torch.randperm(len(Xtr)), bs):
            rate = model(Xtr[idx])
            loss = nll(rate, Ytr[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.item())
            if epoch == 1 and len(losses) % 10 == 0:
                print(f"  batch {len(losses):2d} poisson_nll {loss.item():10.3f} max_rate {rate.max().item():8.1f}")
        model.eval()
        with torch.no_grad():
            mae = (model(Xva) - Yva).abs().mean().item()
        print(f"epoch {epoch:2d} poisson_nll {np.mean(losses):10.3f} val_mae {mae:8.2f}")


fit(ArrivalForecaster())
