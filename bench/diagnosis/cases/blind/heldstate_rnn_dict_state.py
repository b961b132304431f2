# source: https://learn.biosrag.com/ai/rnn-training-4.html
# expect: state-not-detached
# category: sequence
# bug: per-sensor nn.RNN states (sequence-first) are kept in a dict across windows without detaching; retain_graph=True with a hand-written p.data update keeps the loop running while each backward re-enters all previous windows' graphs
import time
import torch
import torch.nn as nn

torch.manual_seed(11)

SENSORS = ["north", "south", "east", "west"]
WIN, BATCH, HID = 20, 4, 24


class Tracker(nn.Module):
    def __init__(self):
        super().__init__()
        self.rnn = nn.RNN(2, HID, num_layers=1, nonlinearity="tanh")
        self.readout = nn.Linear(HID, 1)

    def forward(self, x, h):
        y, h = self.rnn(x, h)
        return self.readout(y), h


def sensor_stream(n_steps):
    t = torch.arange(n_steps).float()[:, None]
    a = torch.sin(0.07 * t + torch.rand(1, BATCH) * 6)
    b = torch.cos(0.05 * t + torch.rand(1, BATCH) * 6)
    x = torch.stack([a, b], -1) + 0.05 * torch.randn(n_steps, BATCH, 2)
    y = (0.8 * a - 0.5 * b).unsqueeze(-1)
    return x, y


N_WIN = 50
streams = {name: sensor_stream(WIN * N_WIN) for name in SENSORS}
model = Tracker()
lr = 0.1
states = {name: torch.zeros(1, BATCH, HID) for name in SENSORS}
loss_fn = nn.MSELoss()

t0 = time.time()
step = 0
for w in range(N_WIN):
    for name in SENSORS:
        xs, ys = streams[name]
        x = xs[w * WIN:(w + 1) * WIN]
        y = ys[w * WIN:(w + 1) * WIN]
        pred, states[name] = model(x, states[name])
        loss = loss_fn(pred, y)
        model.zero_grad()
        loss.backward(retain_graph=True)
        for p in model.parameters():
            p.data.add_(p.grad.data, alpha=-lr)
        if step % 25 == 0:
            print(f"step {step:3d} [{name}] mse {loss.item():.5f}  {time.time() - t0:.2f}s")
        step += 1
print(f"final mse {loss.item():.5f}")
