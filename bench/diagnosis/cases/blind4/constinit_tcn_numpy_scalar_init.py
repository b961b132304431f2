# source: Humbatova et al., "Taxonomy of Real Faults in Deep Learning Systems" (ICSE 2020), Model > "Wrong weights initialisation" (weights ported from a numpy prototype); cf. https://stackoverflow.com/questions/20027598/why-should-weights-of-neural-networks-be-initialized-to-random-numbers
# expect: symmetric-units
# category: regression
# bug: NumpyPrototypeInit calls rng.normal(0, sd) without a size, gets ONE scalar and broadcasts it into every Conv1d/Linear weight, so all channels of every layer are identical and the TCN forecaster has an effective width of one channel
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

np.random.seed(21)
torch.manual_seed(21)

WINDOW, HORIZON = 48, 12


def make_load_series(T=9000, seed=21):
    """Hourly electricity-load-like series with temperature and calendar covariates."""
    rng = np.random.default_rng(seed)
    t = np.arange(T)
    temp = 10 + 8 * np.sin(2 * np.pi * t / (24 * 60)) + 3 * np.sin(2 * np.pi * (t - 6) / 24) + rng.normal(0, 1, T)
    day = np.sin(2 * np.pi * t / 24)
    week = np.cos(2 * np.pi * t / (24 * 7))
    weekend = ((t // 24) % 7 >= 5).astype(float)
    load = np.zeros(T)
    noise = 0.0
    for i in range(T):
        noise = 0.8 * noise + rng.normal(0, 0.15)
        hvac = 0.04 * (temp[i] - 15) ** 2
        daily = (1.0 - 0.5 * weekend[i]) * np.maximum(day[i], -0.3) + 0.4 * np.sin(4 * np.pi * t[i] / 24)
        load[i] = 3 + hvac + 1.5 * daily + noise
    feats = np.stack([load, temp, day, week], axis=1)
    mu, sd = feats[:6000].mean(0), feats[:6000].std(0)
    return ((feats - mu) / sd).astype(np.float32)


def windows(arr, start, stop):
    X, Y = [], []
    for s in range(start, stop - WINDOW - HORIZON, 2):
        X.append(arr[s:s + WINDOW])
        Y.append(arr[s + WINDOW:s + WINDOW + HORIZON, 0])
    return torch.tensor(np.array(X)), torch.tensor(np.array(Y))


class NumpyPrototypeInit:
    """Initialise weights exactly like the numpy prototype did (LeCun-normal, zero bias)."""

    def __init__(self, seed):
        self.rng = np.random.default_rng(seed)

    def __call__(self, m):
        if isinstance(m, (nn.Conv1d, nn.Linear)):
            fan_in = m.weight[0].numel()
            w = self.rng.normal(0.0, np.sqrt(1.0 / fan_in))
            m.weight.data[...] = torch.as_tensor(w, dtype=m.weight.dtype)
            m.bias.data.zero_()


class CausalConv(nn.Conv1d):
    def __init__(self, c_in, c_out, k, dilation):
        super().__init__(c_in, c_out, k, dilation=dilation)
        self.left = (k - 1) * dilation

    def forward(self, x):
        return super().forward(F.pad(x, (self.left, 0)))


class TCNForecaster(nn.Module):
    def __init__(self, n_feat=4, ch=32, horizon=HORIZON):
        super().__init__()
        self.convs = nn.ModuleList([
            CausalConv(n_feat, ch, 3, 1), CausalConv(ch, ch, 3, 2),
            CausalConv(ch, ch, 3, 4), CausalConv(ch, ch, 3, 8),
        ])
        self.head = nn.Linear(ch * 4, horizon)

    def forward(self, x):                      # x: (B, T, F)
        h = x.transpose(1, 2)
        for i, conv in enumerate(self.convs):
            z = F.relu(conv(h))
            h = z if i == 0 else h + z
        return self.head(h[:, :, -4:].flatten(1))


series = make_load_series()
Xtr, Ytr = windows(series, 0, 6000)
Xva, Yva = windows(series, 6000, len(series))
print(f"train windows {len(Xtr)}, val windows {len(Xva)}")

model = TCNForecaster()
model.apply(NumpyPrototypeInit(seed=0))
opt = torch.optim.RMSprop(model.parameters(), lr=1e-3)
BATCH, EPOCHS = 64, 10
for epoch in range(EPOCHS):
    perm = torch.randperm(len(Xtr))
    model.train()
    running = []
    for b in range(0, len(Xtr), BATCH):
        idx = perm[b:b + BATCH]
        pred = model(Xtr[idx])
        loss = F.mse_loss(pred, Ytr[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
        running.append(loss.item())
    model.eval()
    with torch.no_grad():
        val = F.mse_loss(model(Xva), Yva).item()
    print(f"epoch {epoch + 1:2d} train_mse {np.mean(running):.4f} val_mse {val:.4f}")
