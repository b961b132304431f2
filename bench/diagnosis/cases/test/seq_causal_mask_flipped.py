# source: https://github.com/pytorch/pytorch/issues/29546
# expect: causal-leak
# category: lm
# bug: the square "subsequent" mask is built flipped (-inf below the diagonal, 0 on and above it), so each position attends to itself and to every later token instead of the earlier ones
"""A sequence-first Transformer language model (nn.TransformerEncoder, batch_first=False).

The corpus is split into columns like the classic word_language_model example (batchify), so
every tensor is (seq_len, batch).  The mask helper is written by hand.
"""
import math
import random

import torch
import torch.nn as nn

torch.manual_seed(0)
random.seed(0)

NOUNS = ["river", "stone", "cloud", "forest", "lamp", "garden", "window", "road"]
ADJS = ["quiet", "green", "old", "bright", "cold", "small"]


def sentence():
    return f"the {random.choice(ADJS)} {random.choice(NOUNS)} is {random.choice(ADJS)}. "


text = "".join(sentence() for _ in range(2500))
itos = sorted(set(text))
stoi = {c: i for i, c in enumerate(itos)}
stream = torch.tensor([stoi[c] for c in text])
NTOK, BPTT, EMSIZE = len(itos), 35, 64


def batchify(data, bsz):
    nbatch = data.size(0) // bsz
    return data[:nbatch * bsz].view(bsz, -1).t().contiguous()      # (seq, batch)


def get_batch(source, i):
    seq_len = min(BPTT, len(source) - 1 - i)
    return source[i:i + seq_len], source[i + 1:i + 1 + seq_len].reshape(-1)


def square_subsequent_mask(sz):
    # -inf where attention is not allowed
    return torch.tril(torch.full((sz, sz), float("-inf")), diagonal=-1)


class PositionalEncoding(nn.Module):
    def __init__(self, d, max_len=512):
        super().__init__()
        pos = torch.arange(max_len).unsqueeze(1)
        div = torch.exp(torch.arange(0, d, 2) * (-math.log(10000.0) / d))
        pe = torch.zeros(max_len, 1, d)
        pe[:, 0, 0::2] = torch.sin(pos * div)
        pe[:, 0, 1::2] = torch.cos(pos * div)
        self.register_buffer("pe", pe)

    def forward(self, x):
        return x + self.pe[:x.size(0)]


class TransformerLM(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(NTOK, EMSIZE)
        self.pos = PositionalEncoding(EMSIZE)
        layer = nn.TransformerEncoderLayer(EMSIZE, 4, 128, dropout=0.0)
        self.encoder = nn.TransformerEncoder(layer, 2)
        self.decoder = nn.Linear(EMSIZE, NTOK)
        nn.init.uniform_(self.embed.weight, -0.1, 0.1)
        nn.init.zeros_(self.decoder.bias)
        nn.init.uniform_(self.decoder.weight, -0.1, 0.1)

    def forward(self, src, src_mask):
        x = self.pos(self.embed(src) * math.sqrt(EMSIZE))
        return self.decoder(self.encoder(x, mask=src_mask))


train_data = batchify(stream, 20)
model = TransformerLM()
criterion = nn.CrossEntropyLoss()
optimizer = torch.optim.SGD(model.parameters(), lr=0.5)
scheduler = torch.optim.lr_scheduler.StepLR(optimizer, 1, gamma=0.9)
print(f"ntokens {NTOK}, uniform loss {math.log(NTOK):.3f}")

for epoch in range(3):
    model.train()
    for batch, i in enumerate(range(0, train_data.size(0) - 1, BPTT)):
        data, targets = get_batch(train_data, i)
        mask = square_subsequent_mask(data.size(0))
        output = model(data, mask)
        loss = criterion(output.view(-1, NTOK), targets)
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 0.5)
        optimizer.step()
        if batch % 20 == 0:
            print(f"epoch {epoch} batch {batch:3d} lr {scheduler.get_last_lr()[0]:.3f} loss {loss.item():.4f}")
    scheduler.step()
