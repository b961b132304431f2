# source: https://github.com/junxnone/tio/issues/959
# expect: symmetric-units
# category: sequence
# bug: the init loop fills every weight tensor of the LSTM and the readout with the same constant (param.data.fill_), so all hidden units are identical copies
import torch
import torch.nn as nn

torch.manual_seed(0)

SEQ_LEN, BATCH, CHANNELS, DELAY = 20, 32, 3, 2


def make_batch():
    x = torch.randn(SEQ_LEN, BATCH, CHANNELS)   # (time, batch, channels)
    y = torch.zeros_like(x)
    y[DELAY:] = x[:-DELAY]
    return x, y


class DelayLine(nn.Module):
    def __init__(self, hidden=48):
        super().__init__()
        self.lstm = nn.LSTM(CHANNELS, hidden)   # sequence-first
        self.readout = nn.Linear(hidden, CHANNELS)
        self.reset_parameters()

    def reset_parameters(self):
        for name, param in self.named_parameters():
            if "weight" in name:
                param.data.fill_(0.1)
            elif "bias" in name:
                param.data.zero_()

    def forward(self, x):
        out, _ = self.lstm(x)
        return self.readout(out)


model = DelayLine()
optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
loss_fn = nn.MSELoss()

for step in range(300):
    x, y = make_batch()
    pred = model(x)
    loss = loss_fn(pred[DELAY:], y[DELAY:])
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    if step % 30 == 0 or step == 299:
        print(f"step {step:3d}  mse {loss.item():.4f}")
