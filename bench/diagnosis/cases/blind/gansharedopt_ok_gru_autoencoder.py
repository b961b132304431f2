# source: https://github.com/eriklindernoren/PyTorch-GAN/issues/108
# expect: healthy
# category: sequence
# bug: a GRU sequence autoencoder (sequence-first tensors) whose encoder and decoder cooperate on one reconstruction loss, trained with a single Adam over itertools.chain of both: legitimate, there is no game
import itertools
import math
import torch
import torch.nn as nn

torch.manual_seed(14)

T, B, F_DIM = 24, 32, 3


def make_batch(bs):
    # sums of sines with random frequency/phase per feature, shape (T, B, F)
    t = torch.linspace(0, 2 * math.pi, T)[:, None, None]
    freq = 0.5 + 1.5 * torch.rand(1, bs, F_DIM)
    phase = 2 * math.pi * torch.rand(1, bs, F_DIM)
    return torch.sin(freq * t + phase) + 0.05 * torch.randn(T, bs, F_DIM)


class Encoder(nn.Module):
    def __init__(self, hidden=32, code=12):
        super().__init__()
        self.rnn = nn.GRU(F_DIM, hidden)
        self.to_code = nn.Linear(hidden, code)

    def forward(self, x):
        _, h = self.rnn(x)
        return self.to_code(h[-1])


class Decoder(nn.Module):
    def __init__(self, hidden=32, code=12):
        super().__init__()
        self.init = nn.Linear(code, hidden)
        self.rnn = nn.GRU(F_DIM, hidden)
        self.out = nn.Linear(hidden, F_DIM)

    def forward(self, code, x):
        # teacher forcing with the previous frame as input
        h0 = torch.tanh(self.init(code)).unsqueeze(0)
        prev = torch.cat([torch.zeros_like(x[:1]), x[:-1]], dim=0)
        y, _ = self.rnn(prev, h0)
        return self.out(y)


enc, dec = Encoder(), Decoder()
optimizer = torch.optim.Adam(itertools.chain(enc.parameters(), dec.parameters()), lr=3e-3)
criterion = nn.MSELoss()

for step in range(160):
    x = make_batch(B)
    recon = dec(enc(x), x)
    loss = criterion(recon, x)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    if step % 40 == 0 or step == 159:
        print(f"step {step:3d} recon mse {loss.item():.4f}")
