# source: https://github.com/pytorch/pytorch/issues/2769
# expect: state-not-detached
# category: sequence
# bug: a streaming GRU forecaster (sequence-first) keeps its hidden state on self.hidden and reuses it on the next window without detaching, so the second backward() runs into the first window's freed graph
import torch
import torch.nn as nn

torch.manual_seed(9)

WIN, STREAMS, FEAT, HID = 25, 8, 3, 32


class StreamingGRU(nn.Module):
    def __init__(self):
        super().__init__()
        self.gru = nn.GRU(FEAT, HID)
        self.head = nn.Linear(HID, 1)
        self.hidden = None

    def reset(self, n):
        self.hidden = torch.zeros(1, n, HID)

    def forward(self, x):  # x: (time, streams, feat)
        out, self.hidden = self.gru(x, self.hidden)
        return self.head(out).squeeze(-1)


# sensor streams: target is a lagged mix of the features
T_TOTAL = WIN * 200 + 1
feats = torch.randn(T_TOTAL, STREAMS, FEAT).cumsum(0) * 0.05
feats = feats + 0.1 * torch.randn_like(feats)
target = torch.zeros(T_TOTAL, STREAMS)
target[3:] = 0.6 * feats[:-3, :, 0] - 0.4 * feats[:-3, :, 1] + 0.3 * feats[:-3, :, 2]

model = StreamingGRU()
model.reset(STREAMS)
opt = torch.optim.RMSprop(model.parameters(), lr=1e-3)
mse = nn.MSELoss()

for step, start in enumerate(range(0, T_TOTAL - WIN, WIN)):
    x = feats[start:start + WIN]
    y = target[start:start + WIN]
    pred = model(x)
    loss = mse(pred, y)
    opt.zero_grad()
    loss.backward()
    opt.step()
    if step % 20 == 0:
        print(f"window {step:3d}  mse {loss.item():.5f}")
