# source: https://discuss.pytorch.org/t/implementing-truncated-backpropagation-through-time/15500
# expect: state-not-detached
# category: sequence
# bug: truncated BPTT calls hidden.detach() without assigning the result, so the GRU state handed to the next chunk still carries the previous chunk's graph
import math
import torch
import torch.nn as nn

torch.manual_seed(1)

SEQ_FIRST_LEN = 1500
CHUNK = 25
N_SERIES = 8

t = torch.arange(SEQ_FIRST_LEN + 1).float()
phase = torch.rand(N_SERIES) * 2 * math.pi
series = (torch.sin(0.07 * t[:, None] + phase) + 0.5 * torch.sin(0.23 * t[:, None] + 2 * phase)).unsqueeze(-1)  # (T, N, 1)


class Forecaster(nn.Module):
    def __init__(self, hidden=32):
        super().__init__()
        self.rnn = nn.GRU(1, hidden)           # time-first
        self.readout = nn.Linear(hidden, 1)

    def forward(self, x, h=None):
        out, h = self.rnn(x, h)
        return self.readout(out), h


model = Forecaster()
opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
loss_fn = nn.MSELoss()

hidden = None
for epoch in range(3):
    hidden = None
    for k, start in enumerate(range(0, SEQ_FIRST_LEN - CHUNK, CHUNK)):
        x = series[start:start + CHUNK]
        y = series[start + 1:start + CHUNK + 1]
        if hidden is not None:
            hidden.detach()
        pred, hidden = model(x, hidden)
        loss = loss_fn(pred, y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if k % 20 == 0:
            print(f"epoch {epoch} chunk {k:3d} mse {loss.item():.5f}")
