# source: https://github.com/pytorch/pytorch/issues/2769
# expect: healthy
# category: sequence
# bug: healthy; BPTT deliberately spans a window of 3 chunks: the chunks' losses are summed, backward and step run once per window, and the GRU state is detached only at window boundaries
import math
import torch
import torch.nn as nn

torch.manual_seed(14)

CHUNK, WINDOW_CHUNKS, N = 10, 3, 12
LENGTH = 1800
t = torch.arange(LENGTH + 1).float()
freq = 0.05 + 0.1 * torch.rand(N)
signal = torch.sin(freq[:, None] * t[None, :]).unsqueeze(-1)   # (N, L+1, 1) batch-first


class Predictor(nn.Module):
    def __init__(self):
        super().__init__()
        self.gru = nn.GRU(1, 32, batch_first=True)
        self.lin = nn.Linear(32, 1)

    def forward(self, x, h):
        y, h = self.gru(x, h)
        return self.lin(y), h


net = Predictor()
opt = torch.optim.Adam(net.parameters(), lr=3e-3)
mse = nn.MSELoss()

for epoch in range(3):
    h = None
    window_loss = 0.0
    n_in_window = 0
    updates = 0
    for s in range(0, LENGTH - CHUNK + 1, CHUNK):
        x = signal[:, s:s + CHUNK]
        y = signal[:, s + 1:s + CHUNK + 1]
        pred, h = net(x, h)
        window_loss = window_loss + mse(pred, y)
        n_in_window += 1
        if n_in_window == WINDOW_CHUNKS:
            opt.zero_grad()
            (window_loss / WINDOW_CHUNKS).backward()
            opt.step()
            updates += 1
            if updates % 20 == 0:
                print(f"epoch {epoch} update {updates} loss {window_loss.item() / WINDOW_CHUNKS:.5f}")
            h = h.detach()
            window_loss = 0.0
            n_in_window = 0
