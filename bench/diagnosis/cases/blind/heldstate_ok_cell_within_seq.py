# source: https://learn.biosrag.com/ai/rnn-training-4.html
# expect: healthy
# category: sequence
# bug: none - a hand-written RNN cell carries its state across the time steps of one sequence and starts every new batch from a fresh zero state (full BPTT within a sequence only)
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(14)


class ElmanCell(nn.Module):
    def __init__(self, n_in, n_hid):
        super().__init__()
        self.W_x = nn.Parameter(torch.randn(n_in, n_hid) * 0.3)
        self.W_h = nn.Parameter(torch.eye(n_hid) * 0.5)
        self.b = nn.Parameter(torch.zeros(n_hid))

    def forward(self, x_t, h):
        return torch.tanh(x_t @ self.W_x + h @ self.W_h + self.b)


class MajorityNet(nn.Module):
    def __init__(self, n_hid=32):
        super().__init__()
        self.n_hid = n_hid
        self.cell = ElmanCell(1, n_hid)
        self.cls = nn.Linear(n_hid, 2)

    def forward(self, seq):  # seq: (time, batch, 1)
        h = seq.new_zeros(seq.size(1), self.n_hid)
        for x_t in seq:
            h = self.cell(x_t, h)
        return self.cls(h)


def make_batch(n=64, length=7):
    bits = torch.randint(0, 2, (length, n, 1)).float()
    label = (bits.sum(0).squeeze(-1) > length / 2).long()
    return bits, label


net = MajorityNet()
opt = torch.optim.Adam(net.parameters(), lr=1e-2)
for it in range(300):
    x, y = make_batch()
    logits = net(x)
    loss = F.cross_entropy(logits, y)
    opt.zero_grad()
    loss.backward()
    opt.step()
    if it % 30 == 0 or it == 299:
        acc = (logits.argmax(1) == y).float().mean()
        print(f"it {it:3d} loss {loss.item():.4f} acc {acc:.2f}")
