# source: https://github.com/thtrieu/darkflow/issues/1120
# expect: lr-too-low
# category: sequence
# bug: Adam with lr=1e-6: the LSTM's weights barely move in 300 steps and the loss stays where it started
import torch
import torch.nn as nn

torch.manual_seed(25)

# activity recognition from 3-axis accelerometer windows
N_ACT, WIN = 5, 30
freqs = torch.linspace(0.5, 2.5, N_ACT)


def windows(n):
    act = torch.randint(0, N_ACT, (n,))
    t = torch.arange(WIN).float() * 0.2
    phase = torch.rand(n, 1) * 6.28
    base = torch.sin(freqs[act, None] * t + phase)
    sig = torch.stack([base, 0.5 * base.roll(3, 1), torch.cos(freqs[act, None] * t + phase)], dim=-1)
    return sig + 0.3 * torch.randn_like(sig), act


class HARNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.rnn = nn.LSTM(3, 48, batch_first=True)
        self.fc = nn.Linear(48, N_ACT)

    def forward(self, x):
        out, _ = self.rnn(x)
        return self.fc(out[:, -1])


net = HARNet()
optimizer = torch.optim.Adam(net.parameters(), lr=1e-6)
loss_fn = nn.CrossEntropyLoss()

for step in range(300):
    x, y = windows(64)
    logits = net(x)
    loss = loss_fn(logits, y)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    if step % 30 == 0 or step == 299:
        acc = (logits.argmax(1) == y).float().mean().item()
        print(f"step {step:3d}  loss {loss.item():.4f}  acc {acc:.2f}")
