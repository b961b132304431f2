# source: https://github.com/keras-team/keras/issues/11157
# expect: graph-break
# category: regression
# bug: a compression autoencoder quantizes its code with torch.round (no straight-through estimator); round has zero gradient, so the encoder never learns
import torch
import torch.nn as nn

torch.manual_seed(23)

# signals that live on a 3-d manifold inside 32-d
n = 6000
t = torch.rand(n, 3) * 2 - 1
basis = torch.randn(3, 32)
signals = torch.sin(t @ basis) + 0.02 * torch.randn(n, 32)

config = {"code_dim": 6, "levels": 8.0, "lr": 1e-3, "batch": 128, "steps": 400}


class Compressor(nn.Module):
    def __init__(self, code_dim, levels):
        super().__init__()
        self.levels = levels
        self.encoder = nn.Sequential(nn.Linear(32, 64), nn.GELU(), nn.Linear(64, code_dim), nn.Tanh())
        self.decoder = nn.Sequential(nn.Linear(code_dim, 64), nn.GELU(), nn.Linear(64, 32))

    def quantize(self, z):
        return torch.round(z * self.levels) / self.levels

    def forward(self, x):
        return self.decoder(self.quantize(self.encoder(x)))


def fit(cfg):
    model = Compressor(cfg["code_dim"], cfg["levels"])
    opt = torch.optim.AdamW(model.parameters(), lr=cfg["lr"])
    for step in range(cfg["steps"]):
        x = signals[torch.randint(0, n, (cfg["batch"],))]
        loss = (model(x) - x).pow(2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % 50 == 0 or step == cfg["steps"] - 1:
            print(f"step {step:3d}  recon mse {loss.item():.5f}")
    return model


fit(config)
