# source: https://github.com/MorvanZhou/PyTorch-Tutorial/issues/57
# expect: hidden-state-not-detached
# category: lm
# bug: the LSTM state is carried from one BPTT chunk to the next without .detach(), so the second backward() walks into the first chunk's already-freed graph (RuntimeError: Trying to backward through the graph a second time)
"""Truncated-BPTT character LM over one long stream, sequence-first like word_language_model.

The hidden state is kept between chunks on purpose (the stream is contiguous) but never cut from
the previous chunk's graph.
"""
import random

import torch
import torch.nn as nn

torch.manual_seed(0)
random.seed(0)

WORDS = ["north", "south", "east", "west", "wind", "rain", "snow", "sun", "storm", "calm"]
text = " ".join(random.choice(WORDS) for _ in range(8000))
chars = sorted(set(text))
stream = torch.tensor([chars.index(c) for c in text])
V, BSZ, BPTT = len(chars), 16, 30


def batchify(data, bsz):
    n = data.size(0) // bsz
    return data[: n * bsz].view(bsz, n).t().contiguous()        # (time, batch)


class RNNModel(nn.Module):
    def __init__(self, ntoken, ninp, nhid, nlayers):
        super().__init__()
        self.encoder = nn.Embedding(ntoken, ninp)
        self.rnn = nn.LSTM(ninp, nhid, nlayers)
        self.decoder = nn.Linear(nhid, ntoken)
        self.nhid, self.nlayers = nhid, nlayers

    def forward(self, x, hidden):
        out, hidden = self.rnn(self.encoder(x), hidden)
        return self.decoder(out), hidden

    def init_hidden(self, bsz):
        z = torch.zeros(self.nlayers, bsz, self.nhid)
        return (z, z.clone())


train = batchify(stream, BSZ)
model = RNNModel(V, 32, 128, 2)
criterion = nn.CrossEntropyLoss()
optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)

for epoch in range(2):
    hidden = model.init_hidden(BSZ)
    for batch, i in enumerate(range(0, train.size(0) - 1, BPTT)):
        seq_len = min(BPTT, train.size(0) - 1 - i)
        data, targets = train[i:i + seq_len], train[i + 1:i + 1 + seq_len]
        output, hidden = model(data, hidden)
        loss = criterion(output.view(-1, V), targets.reshape(-1))
        optimizer.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 0.25)
        optimizer.step()
        if batch % 20 == 0:
            print(f"epoch {epoch} batch {batch:3d} loss {loss.item():.4f}")
