# source: https://github.com/ray075hl/Bi-Model-Intent-And-Slot/pull/2
# expect: batch-mixing, cannot-overfit-batch
# category: sequence
# bug: the LSTM is built without batch_first=True but fed (batch, time, feature) tensors, so it recurs over the batch axis: each tag is computed from other samples at the same time step instead of from its own history
"""Token tagger: the tag of each position is the previous token's class."""
import torch
import torch.nn as nn

torch.manual_seed(1)

V, T, B = 8, 16, 32
EMB, HID = 16, 32


def make_batch():
    tok = torch.randint(0, V, (B, T))
    tags = torch.zeros(B, T, dtype=torch.long)
    tags[:, 1:] = tok[:, :-1] % 4          # tag_t = class of token_{t-1}
    return tok, tags


class Tagger(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(V, EMB)
        self.rnn = nn.LSTM(EMB, HID)           # BUG: batch_first missing, inputs are (B, T, E)
        self.out = nn.Linear(HID, 4)

    def forward(self, tok):
        h, _ = self.rnn(self.emb(tok))
        return self.out(h)                     # (B, T, 4)


model = Tagger()
opt = torch.optim.Adam(model.parameters(), lr=3e-3)
crit = nn.CrossEntropyLoss()

for step in range(200):
    tok, tags = make_batch()
    logits = model(tok)
    loss = crit(logits.reshape(-1, 4), tags.reshape(-1))
    opt.zero_grad()
    loss.backward()
    opt.step()
    if step % 50 == 0 or step == 199:
        acc = (logits.argmax(-1) == tags).float().mean().item()
        print(f"step {step:3d}  loss {loss.item():.4f}  acc {acc:.3f}")
