# source: https://datascience.stackexchange.com/questions/54551/time-series-forecasting-with-rnns
# expect: unnormalized-inputs
# category: sequence
# bug: each LSTM time step gets [unix timestamp in seconds (~1.7e9), load in kW (~hundreds), hour]; the raw columns saturate every gate and the forecaster outputs the same value for every input
import torch
import torch.nn as nn

torch.manual_seed(14)

n_windows, L = 600, 24
start = 1.70e9 + torch.randint(0, 3_000_000, (n_windows,)).float()
t = start[:, None] + 3600 * torch.arange(L + 1).float()[None]
hour = (t / 3600) % 24
level = 300 + 80 * torch.rand(n_windows, 1)
load = level + 60 * torch.sin(2 * 3.1416 * hour / 24) + 10 * torch.randn(n_windows, L + 1)

inputs = torch.stack([t[:, :L], load[:, :L], hour[:, :L]], dim=-1)
target = (load[:, L] - 300.0) / 60.0        # next-hour load (standardised)


class LoadForecaster(nn.Module):
    def __init__(self, hidden=32):
        super().__init__()
        self.lstm = nn.LSTM(3, hidden, batch_first=True)
        self.head = nn.Linear(hidden, 1)

    def forward(self, x):
        out, _ = self.lstm(x)
        return self.head(out[:, -1]).squeeze(-1)


model = LoadForecaster()
opt = torch.optim.Adam(model.parameters(), lr=3e-3)

for step in range(250):
    idx = torch.randint(0, 500, (32,))
    pred = model(inputs[idx])
    loss = nn.functional.mse_loss(pred, target[idx])
    opt.zero_grad()
    loss.backward()
    opt.step()
    if step % 25 == 0:
        with torch.no_grad():
            val = nn.functional.mse_loss(model(inputs[500:]), target[500:]).item()
        print(f"step {step:3d} train mse {loss.item():.4f}  val mse {val:.4f}  pred std {pred.std().item():.4f}")
