# source: https://discuss.pytorch.org/t/scaling-target-variables/41046
# expect: output-range-mismatch
# category: regression
# bug: a GRU forecasting tomorrow's temperature in degrees C (roughly -5..30) ends in torch.tanh, so every prediction is stuck inside (-1, 1)
import math
import torch
import torch.nn as nn

torch.manual_seed(32)

DAYS = 14


def weather(n):
    season = torch.rand(n, 1) * 2 * math.pi
    t = torch.arange(DAYS + 1).float() / 365 * 2 * math.pi
    temp = 12 + 12 * torch.sin(season + t) + 2.0 * torch.randn(n, DAYS + 1)
    humidity = 60 - 0.8 * temp + 5 * torch.randn(n, DAYS + 1)
    feats = torch.stack([temp[:, :DAYS] / 10, humidity[:, :DAYS] / 50], dim=-1)
    return feats, temp[:, DAYS]


class TempForecaster(nn.Module):
    def __init__(self, hidden=32):
        super().__init__()
        self.gru = nn.GRU(2, hidden, batch_first=True)
        self.fc = nn.Linear(hidden, 1)

    def forward(self, x):
        _, h = self.gru(x)
        return torch.tanh(self.fc(h[-1])).squeeze(-1)


model = TempForecaster()
opt = torch.optim.Adam(model.parameters(), lr=5e-3)
loss_fn = nn.MSELoss()


def train(steps=250):
    for step in range(steps):
        x, target = weather(64)
        pred = model(x)
        loss = loss_fn(pred, target)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % 25 == 0 or step == steps - 1:
            mae = (pred - target).abs().mean().item()
            print(f"step {step}: mse={loss.item():.2f} mae={mae:.2f}C pred range=({pred.min().item():.2f}, {pred.max().item():.2f})")


train()
