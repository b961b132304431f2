# source: https://github.com/MorvanZhou/PyTorch-Tutorial/issues/57
# expect: healthy
# category: lm
# bug: none: truncated BPTT over a contiguous stream, the LSTM state carried between chunks and detached before each chunk (repackage_hidden), sequence-first tensors flattened in the same (time, batch) order for output and targets, hand-written SGD update with clipping
"""word_language_model-style training loop: no torch.optim, the update is done by hand."""
import math
import random

import torch
import torch.nn as nn

torch.manual_seed(0)
random.seed(0)

WORDS = ["north", "south", "east", "west", "wind", "rain", "snow", "sun", "storm", "calm"]
text = " ".join(random.choice(WORDS) for _ in range(8000))
chars = sorted(set(text))
stream = torch.tensor([chars.index(c) for c in text])
V, BSZ, BPTT, LR, CLIP = len(chars), 16, 30, 5.0, 0.25


def batchify(data, bsz):
    n = data.size(0) // bsz
    return data[: n * bsz].view(bsz, n).t().contiguous()        # (time, batch)


def repackage_hidden(h):
    if isinstance(h, torch.Tensor):
        return h.detach()
    return tuple(repackage_hidden(v) for v in h)


class RNNModel(nn.Module):
    def __init__(self, ntoken, ninp, nhid, nlayers):
        super().__init__()
        self.encoder = nn.Embedding(ntoken, ninp)
        self.rnn = nn.LSTM(ninp, nhid, nlayers)
        self.decoder = nn.Linear(nhid, ntoken)
        self.nhid, self.nlayers = nhid, nlayers
        nn.init.uniform_(self.encoder.weight, -0.1, 0.1)
        nn.init.uniform_(self.decoder.weight, -0.1, 0.1)
        nn.init.zeros_(self.decoder.bias)

    def forward(self, x, hidden):
        out, hidden = self.rnn(self.encoder(x), hidden)
        return self.decoder(out), hidden

    def init_hidden(self, bsz):
        z = torch.zeros(self.nlayers, bsz, self.nhid)
        return (z, z.clone())


train = batchify(stream, BSZ)
model = RNNModel(V, 32, 128, 2)
criterion = nn.CrossEntropyLoss()
print(f"vocab {V}, uniform loss {math.log(V):.3f}")

for epoch in range(2):
    model.train()
    hidden = model.init_hidden(BSZ)
    for batch, i in enumerate(range(0, train.size(0) - 1, BPTT)):
        seq_len = min(BPTT, train.size(0) - 1 - i)
        data, targets = train[i:i + seq_len], train[i + 1:i + 1 + seq_len]
        hidden = repackage_hidden(hidden)
        model.zero_grad()
        output, hidden = model(data, hidden)
        loss = criterion(output.view(-1, V), targets.reshape(-1))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), CLIP)
        with torch.no_grad():
            for p in model.parameters():
                p.add_(p.grad, alpha=-LR)
        if batch % 20 == 0:
            print(f"epoch {epoch} batch {batch:3d} loss {loss.item():.4f} ppl {math.exp(loss.item()):.2f}")
