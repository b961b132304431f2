# source: https://www.codegenes.net/blog/how-to-use-detach-in-hidden-state-loss-backward-pytorch
# expect: graph-break, hidden-detached-too-early
# category: sequence
# bug: the detach meant to truncate BPTT between chunks sits inside the per-timestep loop, so no gradient ever flows from one time step to the previous one and the LSTM cannot learn a 4-step recall
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(10)

LAG = 4
T, B = 16, 32
HID = 32


def make_batch():
    bits = torch.randint(2, (T, B))
    x = F.one_hot(bits, 2).float()            # (T, B, 2) time-major
    y = torch.full((T, B), -100, dtype=torch.long)
    y[LAG:] = bits[:-LAG]
    return x, y


cell = nn.LSTMCell(2, HID)
head = nn.Linear(HID, 2)
params = list(cell.parameters()) + list(head.parameters())
opt = torch.optim.Adam(params, lr=5e-3)

h = torch.zeros(B, HID)
c = torch.zeros(B, HID)
for it in range(300):
    x, y = make_batch()
    h, c = h.detach(), c.detach()
    logits = []
    for t in range(T):
        h, c = cell(x[t], (h, c))
        logits.append(head(h))
        h, c = h.detach(), c.detach()
    logits = torch.stack(logits)
    loss = F.cross_entropy(logits.view(-1, 2), y.view(-1), ignore_index=-100)
    opt.zero_grad()
    loss.backward()
    opt.step()
    if it % 30 == 0 or it == 299:
        acc = (logits.argmax(-1)[LAG:] == y[LAG:]).float().mean()
        print(f"it {it:3d} loss {loss.item():.4f} recall acc {acc.item():.3f}")
