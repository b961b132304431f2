# source: https://github.com/IC3Net/IC3Net/issues/7
# expect: state-not-detached
# category: regression
# bug: a stateful LSTM forecaster (sequence-first) detaches only h of its (h, c) state between consecutive windows; the cell state c still carries the previous window's graph into the next backward
import torch
import torch.nn as nn
from torch.utils.data import DataLoader, TensorDataset

torch.manual_seed(16)

WIN, HID = 30, 32

t = torch.arange(WIN * 150 + 1).float()
load = torch.sin(2 * 3.14159 * t / 48) + 0.5 * torch.sin(2 * 3.14159 * t / 336) + 0.1 * torch.randn_like(t)
inputs = load[:-1].view(-1, WIN, 1)   # consecutive windows
targets = load[1:].view(-1, WIN, 1)
loader = DataLoader(TensorDataset(inputs, targets), batch_size=1, shuffle=False)


class LoadForecaster(nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(1, HID)
        self.proj = nn.Linear(HID, 1)

    def forward(self, x, state):
        y, state = self.lstm(x, state)
        return self.proj(y), state


def fit(model, epochs=1):
    opt = torch.optim.Adam(model.parameters(), lr=5e-3)
    loss_fn = nn.SmoothL1Loss()
    for epoch in range(epochs):
        state = None
        for i, (x, y) in enumerate(loader):
            x, y = x.transpose(0, 1), y.transpose(0, 1)  # (time, 1, 1)
            if state is not None:
                h, c = state
                state = (h.detach(), c)
            pred, state = model(x, state)
            loss = loss_fn(pred, y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            if i % 15 == 0:
                print(f"epoch {epoch} window {i:3d} loss {loss.item():.5f}")


fit(LoadForecaster())
