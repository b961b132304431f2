# source: https://github.com/pytorch/pytorch/issues/28272
# expect: causal-leak, label-leakage
# category: regression
# bug: the additive float mask for a sequence-first nn.TransformerEncoder forecaster is built with 0 and -inf swapped (0 on and above the diagonal), so step t attends to itself and every later step
import math
import torch
import torch.nn as nn

torch.manual_seed(1)

SEQ, BATCH, D = 32, 16, 32


def square_mask(sz):
    m = torch.triu(torch.ones(sz, sz))
    m = m.masked_fill(m == 0, float("-inf")).masked_fill(m == 1, 0.0)
    return m


class PositionalEncoding(nn.Module):
    def __init__(self, d_model, max_len=256):
        super().__init__()
        pe = torch.zeros(max_len, 1, d_model)
        pos = torch.arange(max_len).unsqueeze(1)
        div = torch.exp(torch.arange(0, d_model, 2) * (-math.log(10000.0) / d_model))
        pe[:, 0, 0::2] = torch.sin(pos * div)
        pe[:, 0, 1::2] = torch.cos(pos * div)
        self.register_buffer("pe", pe)

    def forward(self, x):
        return x + self.pe[: x.size(0)]


class Forecaster(nn.Module):
    def __init__(self):
        super().__init__()
        self.inp = nn.Linear(1, D)
        self.pos = PositionalEncoding(D)
        layer = nn.TransformerEncoderLayer(D, nhead=4, dim_feedforward=64, dropout=0.0)
        self.encoder = nn.TransformerEncoder(layer, num_layers=2)
        self.out = nn.Linear(D, 1)

    def forward(self, src):  # src: (seq, batch, 1)
        mask = square_mask(src.size(0))
        h = self.encoder(self.pos(self.inp(src)), mask=mask)
        return self.out(h)


def series_batch():
    t = torch.arange(SEQ + 1).float().unsqueeze(1)
    phase = torch.rand(1, BATCH) * 6.28
    freq = 0.15 + 0.1 * torch.rand(1, BATCH)
    s = torch.sin(freq * t + phase) + 0.3 * torch.randn(SEQ + 1, BATCH)
    return s[:-1].unsqueeze(-1), s[1:].unsqueeze(-1)


model = Forecaster()
opt = torch.optim.Adam(model.parameters(), lr=1e-3)
loss_fn = nn.MSELoss()

for epoch in range(200):
    src, tgt = series_batch()
    pred = model(src)
    loss = loss_fn(pred, tgt)
    opt.zero_grad()
    loss.backward()
    opt.step()
    if epoch % 20 == 0 or epoch == 199:
        print(f"epoch {epoch:3d}  mse {loss.item():.4f}")
