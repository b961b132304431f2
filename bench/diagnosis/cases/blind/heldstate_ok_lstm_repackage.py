# source: https://github.com/yikangshen/Ordered-Neurons/issues/13
# expect: healthy
# category: lm
# bug: none - stateful LSTM LM (sequence-first) carries (h, c) across BPTT chunks and detaches it with repackage_hidden before each chunk (truncated BPTT done right)
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(12)

VOCAB, BSZ, BPTT, HID = 40, 12, 16, 64


def repackage_hidden(h):
    if isinstance(h, torch.Tensor):
        return h.detach()
    return tuple(repackage_hidden(v) for v in h)


class RNNModel(nn.Module):
    def __init__(self):
        super().__init__()
        self.encoder = nn.Embedding(VOCAB, 32)
        self.rnn = nn.LSTM(32, HID, num_layers=2)
        self.decoder = nn.Linear(HID, VOCAB)

    def forward(self, inp, hidden):
        out, hidden = self.rnn(self.encoder(inp), hidden)
        return self.decoder(out), hidden

    def init_hidden(self, bsz):
        w = next(self.parameters())
        return (w.new_zeros(2, bsz, HID), w.new_zeros(2, bsz, HID))


tokens = [1]
for _ in range(BSZ * 3300):
    tokens.append((tokens[-1] * 5 + 3) % VOCAB if torch.rand(1).item() < 0.75 else torch.randint(VOCAB, (1,)).item())
source = torch.tensor(tokens[: BSZ * 3300]).view(BSZ, -1).t().contiguous()  # (time, batch)

model = RNNModel()
optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
hidden = model.init_hidden(BSZ)

for batch, i in enumerate(range(0, 200 * BPTT, BPTT)):
    data, targets = source[i:i + BPTT], source[i + 1:i + 1 + BPTT]
    hidden = repackage_hidden(hidden)
    output, hidden = model(data, hidden)
    loss = F.cross_entropy(output.view(-1, VOCAB), targets.reshape(-1))
    optimizer.zero_grad()
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 0.25)
    optimizer.step()
    if batch % 20 == 0 or batch == 199:
        print(f"| batch {batch:3d} | loss {loss.item():5.3f}")
