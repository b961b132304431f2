# source: https://github.com/facebookresearch/fairseq/issues/47
# expect: saturated-activations
# category: lm
# bug: the embeddings (default N(0, 1) init) are multiplied by sqrt(d_model) as in the Transformer paper, but feed a tanh RNN: its pre-activations are ~10x too large, the tanh units saturate, their gradients vanish and the model barely learns
"""Character LM with a tanh RNN, batch-first.  The embedding scale was copied from a Transformer."""
import math
import random

import torch
import torch.nn as nn

torch.manual_seed(0)
random.seed(0)

PHRASES = ["to be or not to be", "all that glitters is not gold", "a rose by any other name",
           "the lady doth protest too much", "brevity is the soul of wit", "what is done is done"]
text = " | ".join(random.choice(PHRASES) for _ in range(1500))
itos = sorted(set(text))
stoi = {c: i for i, c in enumerate(itos)}
ids = torch.tensor([stoi[c] for c in text])
V, D, HID, SEQ = len(itos), 256, 128, 40


class ScaledEmbedding(nn.Module):
    def __init__(self, vocab, dim):
        super().__init__()
        self.lut = nn.Embedding(vocab, dim)
        self.dim = dim

    def forward(self, x):
        return self.lut(x) * math.sqrt(self.dim)


class CharRNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = ScaledEmbedding(V, D)
        self.rnn = nn.RNN(D, HID, batch_first=True)          # tanh Elman RNN
        self.proj = nn.Linear(HID, V)

    def forward(self, x):
        h, _ = self.rnn(self.embed(x))
        return self.proj(h)


def batches(bs=32):
    while True:
        starts = torch.randint(0, len(ids) - SEQ - 1, (bs,))
        chunk = torch.stack([ids[s:s + SEQ + 1] for s in starts])
        yield chunk[:, :-1], chunk[:, 1:]


model = CharRNN()
optimizer = torch.optim.SGD(model.parameters(), lr=1.0)
loss_fn = nn.CrossEntropyLoss()
print(f"vocab {V}, uniform loss {math.log(V):.3f}")

stream = batches()
for step in range(250):
    x, y = next(stream)
    logits = model(x)
    loss = loss_fn(logits.permute(0, 2, 1), y)        # (B, C, T) against (B, T)
    optimizer.zero_grad()
    loss.backward()
    nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    optimizer.step()
    if step % 25 == 0:
        print(f"step {step:3d} loss {loss.item():.4f}")
