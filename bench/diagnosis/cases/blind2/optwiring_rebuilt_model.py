# source: https://github.com/plstcharles/thelper/pull/24
# expect: params-not-in-optimizer, optimizer-params-unused
# category: regression
# bug: the optimizer is created from a first LSTM instance; the model is then rebuilt with the final config and the new instance is trained, which no optimizer holds
import torch
import torch.nn as nn

torch.manual_seed(14)


class Forecaster(nn.Module):
    def __init__(self, hidden=32, layers=1):
        super().__init__()
        self.lstm = nn.LSTM(1, hidden, num_layers=layers, batch_first=True)
        self.head = nn.Linear(hidden, 1)

    def forward(self, x):
        out, _ = self.lstm(x)
        return self.head(out[:, -1])


def make_series(n, window=24):
    t0 = torch.rand(n, 1) * 6.28
    freq = 0.2 + 0.3 * torch.rand(n, 1)
    t = torch.arange(window + 1).float()
    s = torch.sin(t0 + freq * t) + 0.05 * torch.randn(n, window + 1)
    return s[:, :window, None], s[:, window:]


config = {"hidden": 32, "layers": 1, "lr": 5e-3}

model = Forecaster()
optimizer = torch.optim.Adam(model.parameters(), lr=config["lr"])

# user overrides from the command line
config.update({"hidden": 48})
model = Forecaster(hidden=config["hidden"], layers=config["layers"])

loss_fn = nn.MSELoss()
for step in range(250):
    x, y = make_series(64)
    pred = model(x)
    loss = loss_fn(pred, y)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    if step % 25 == 0 or step == 249:
        print(f"step {step:3d}  mse {loss.item():.4f}")
