# source: https://github.com/spro/practical-pytorch/issues/27 (decoder outputs collected per time step into a time-first buffer and must be transposed to batch-first before the loss against batch-first targets); here the per-step outputs are torch.stack-ed on dim 0 and flattened against (B, H, C) targets
# expect: targets-misaligned
# category: regression
# bug: the autoregressive decoder stacks its per-step outputs along dim 0 giving (H, B, C) while the targets are (B, H, C); both are flattened with view(-1, C), so row k of the prediction is compared with a different sample/horizon of the target
import numpy as np
import torch
import torch.nn as nn

np.random.seed(8)
torch.manual_seed(8)

N_SENS = 3
HIST, HORIZON = 32, 8


def sensor_series(n_series, length, rng):
    """Three coupled sensors per machine: phase-shifted sines with random
    periods plus a slow drift and noise."""
    t = np.arange(length)[None, :]
    period = rng.uniform(12, 40, (n_series, 1))
    phase = rng.uniform(0, 2 * np.pi, (n_series, 1))
    base = np.sin(2 * np.pi * t / period + phase)
    drift = rng.uniform(-0.01, 0.01, (n_series, 1)) * t
    s0 = base + drift
    s1 = 0.7 * np.roll(base, 3, axis=1) - drift
    s2 = base ** 2 - 0.5
    x = np.stack([s0, s1, s2], axis=-1) + 0.05 * rng.randn(n_series, length, N_SENS)
    return x.astype(np.float32)


def windows(series):
    xs, ys = [], []
    for s in series:
        for start in range(0, s.shape[0] - HIST - HORIZON, 6):
            xs.append(s[start:start + HIST])
            ys.append(s[start + HIST:start + HIST + HORIZON])
    return torch.tensor(np.array(xs)), torch.tensor(np.array(ys))


class Seq2SeqForecaster(nn.Module):
    def __init__(self, hidden=64):
        super().__init__()
        self.encoder = nn.LSTM(N_SENS, hidden, batch_first=True)
        self.decoder = nn.LSTMCell(N_SENS, hidden)
        self.head = nn.Linear(hidden, N_SENS)

    def forward(self, history, horizon=HORIZON):
        _, (h, c) = self.encoder(history)
        h, c = h[0], c[0]
        inp = history[:, -1]
        outputs = []
        for _ in range(horizon):
            h, c = self.decoder(inp, (h, c))
            step = self.head(h)
            outputs.append(step)
            inp = step
        return torch.stack(outputs)


rng = np.random.RandomState(1)
x_tr, y_tr = windows(sensor_series(60, 240, rng))
x_va, y_va = windows(sensor_series(12, 240, rng))
print("train windows", tuple(x_tr.shape), "targets", tuple(y_tr.shape))

naive = ((x_va[:, -1:, :] - y_va) ** 2).mean().item()

model = Seq2SeqForecaster()
criterion = nn.MSELoss()
optimizer = torch.optim.RMSprop(model.parameters(), lr=1e-3)
BATCH = 64

for epoch in range(10):
    model.train()
    perm = torch.randperm(len(x_tr))
    losses = []
    for s in range(0, len(perm), BATCH):
        idx = perm[s:s + BATCH]
        pred = model(x_tr[idx])
        loss = criterion(pred.view(-1, N_SENS), y_tr[idx].view(-1, N_SENS))
        optimizer.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        losses.append(loss.item())
    model.eval()
    with torch.no_grad():
        pv = model(x_va)
        val = criterion(pv.view(-1, N_SENS), y_va.view(-1, N_SENS)).item()
    print(f"epoch {epoch}  train_mse {np.mean(losses):.4f}  val_mse {val:.4f}  (persistence baseline {naive:.4f})")
