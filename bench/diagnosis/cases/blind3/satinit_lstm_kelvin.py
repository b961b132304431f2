# source: https://github.com/mukul-rathi/deep-learning-tutorials/issues/2
# expect: saturated-activations, unnormalized-inputs
# category: regression
# bug: raw sensor readings (~300 K, ~1000 hPa) go unscaled into an LSTM: every gate is pinned at 0/1 from the first step and the input is ignored
import torch
import torch.nn as nn

torch.manual_seed(22)

config = {"T": 24, "hidden": 32, "lr": 1e-3, "epochs": 8, "batch": 64, "n": 768}


def build_dataset(cfg):
    T, n = cfg["T"], cfg["n"]
    temp = 290.0 + 8.0 * torch.randn(n, 1) + torch.cumsum(0.5 * torch.randn(n, T), 1)
    pressure = 1010.0 + 6.0 * torch.randn(n, T)
    humidity = 60.0 + 15.0 * torch.rand(n, T)
    x = torch.stack([temp, pressure, humidity], -1)          # (n, T, 3)
    target = (temp[:, -1] - 290.0) / 8.0 + 0.3 * (pressure[:, -6:].mean(1) - 1010.0) / 6.0
    return x.transpose(0, 1).contiguous(), target              # time-first (T, n, 3)


class Forecaster(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.lstm = nn.LSTM(3, cfg["hidden"], num_layers=2)
        self.out = nn.Linear(cfg["hidden"], 1)

    def forward(self, x):
        seq, _ = self.lstm(x)
        return self.out(seq[-1]).squeeze(-1)


def train_one_epoch(model, opt, x, y, cfg):
    perm = torch.randperm(x.size(1))
    losses = []
    for i in range(0, x.size(1), cfg["batch"]):
        idx = perm[i:i + cfg["batch"]]
        loss = nn.functional.mse_loss(model(x[:, idx]), y[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return sum(losses) / len(losses)


def main(cfg):
    x, y = build_dataset(cfg)
    model = Forecaster(cfg)
    opt = torch.optim.RMSprop(model.parameters(), lr=cfg["lr"])
    for epoch in range(cfg["epochs"]):
        avg = train_one_epoch(model, opt, x, y, cfg)
        print(f"epoch {epoch:2d} | train mse {avg:.4f}")


main(config)
