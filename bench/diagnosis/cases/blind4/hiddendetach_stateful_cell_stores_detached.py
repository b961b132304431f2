# source: https://discuss.pytorch.org/t/help-clarifying-repackage-hidden-in-word-language-model/226 (repackaging/detaching the hidden state is meant for batch boundaries; here a streaming cell repackages it at every time step)
# expect: state-not-detached, graph-break
# category: regression
# bug: StreamingLSTMCell keeps its own (h, c) for streaming inference and stores them with .detach() after every call; during training the state read at step t+1 is therefore cut from step t, BPTT is truncated to one step and the model cannot learn that the target echoes the input from 6 steps earlier
import torch
import torch.nn as nn
from torch.utils.data import DataLoader, Dataset

torch.manual_seed(31)

T, DELAY = 40, 6


class EchoSeries(Dataset):
    """Sensor reading x_t (smoothed noise); the target is the reading DELAY steps ago."""

    def __init__(self, n):
        raw = torch.randn(n, T + DELAY)
        x = raw.clone()
        for t in range(1, T + DELAY):
            x[:, t] = 0.3 * x[:, t - 1] + raw[:, t]
        self.inp = x[:, DELAY:]
        self.tgt = x[:, :T]

    def __len__(self):
        return len(self.inp)

    def __getitem__(self, i):
        return self.inp[i], self.tgt[i]


class StreamingLSTMCell(nn.Module):
    def __init__(self, n_in, n_hid):
        super().__init__()
        self.gates = nn.Linear(n_in + n_hid, 4 * n_hid)
        self.n_hid = n_hid
        self.state = None

    def reset_state(self, batch):
        self.state = (torch.zeros(batch, self.n_hid), torch.zeros(batch, self.n_hid))

    def forward(self, x):
        h, c = self.state
        i, f, g, o = self.gates(torch.cat([x, h], 1)).chunk(4, 1)
        c = torch.sigmoid(f + 1.0) * c + torch.sigmoid(i) * torch.tanh(g)
        h = torch.sigmoid(o) * torch.tanh(c)
        self.state = (h.detach(), c.detach())
        return h


class EchoModel(nn.Module):
    def __init__(self, hid=48):
        super().__init__()
        self.cell = StreamingLSTMCell(1, hid)
        self.head = nn.Linear(hid, 1)

    def forward(self, x_tb):                      # time-first [T, B]
        self.cell.reset_state(x_tb.shape[1])
        outs = [self.head(self.cell(x_tb[t, :, None])) for t in range(x_tb.shape[0])]
        return torch.cat(outs, 1).T               # [T, B]


loader = DataLoader(EchoSeries(3072), batch_size=128, shuffle=True)
val_x, val_y = EchoSeries(512)[:]
model = EchoModel()
opt = torch.optim.Adam(model.parameters(), lr=5e-3)
for epoch in range(1, 9):
    for xb, yb in loader:
        pred = model(xb.T)
        loss = ((pred - yb.T)[DELAY:] ** 2).mean()
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
    with torch.no_grad():
        vp = model(val_x.T)
        vloss = ((vp - val_y.T)[DELAY:] ** 2).mean().item()
    print(f"epoch {epoch}  train mse {loss.item():.4f}  val mse {vloss:.4f}  (target variance {val_y.var().item():.3f})")
