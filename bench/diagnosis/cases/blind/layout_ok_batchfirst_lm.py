# source: https://discuss.pytorch.org/t/stacking-lstm-hidden-layers-vs-using-the-last-one-for-language-models/107907
# expect: healthy
# category: lm
# bug: none: LSTM is batch_first, so (B, T, V) logits flattened with reshape(-1, V) line up with (B, T) targets flattened the same way
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(0)
VOCAB, SEQ, BATCH = 20, 12, 16


def make_batch(n):
    start = torch.randint(0, VOCAB, (n, 1))
    seq = (start + torch.arange(SEQ + 1).unsqueeze(0)) % VOCAB
    return seq[:, :-1], seq[:, 1:]


class CharLSTM(nn.Module):
    def __init__(self, vocab, emb=32, hidden=64):
        super().__init__()
        self.emb = nn.Embedding(vocab, emb)
        self.rnn = nn.LSTM(emb, hidden, batch_first=True)
        self.head = nn.Linear(hidden, vocab)

    def forward(self, tokens):
        out, _ = self.rnn(self.emb(tokens))       # (B, T, H)
        return self.head(out)                     # (B, T, V)


model = CharLSTM(VOCAB)
opt = torch.optim.Adam(model.parameters(), lr=3e-3)

for step in range(300):
    inp, tgt = make_batch(BATCH)
    logits = model(inp)
    loss = F.cross_entropy(logits.reshape(-1, VOCAB), tgt.reshape(-1))
    opt.zero_grad()
    loss.backward()
    opt.step()
    if step % 30 == 0 or step == 299:
        acc = (logits.argmax(-1) == tgt).float().mean().item()
        print(f"step {step:4d}  loss {loss.item():.4f}  acc {acc:.3f}")
