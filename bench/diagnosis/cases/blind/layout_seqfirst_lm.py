# source: https://github.com/IBM/pytorch-seq2seq/issues/34
# expect: targets-misaligned, layout-scrambled
# category: lm
# bug: GRU runs sequence-first and returns (T, B, V) logits, flattened with .view(-1, V) against (B, T) targets flattened batch-first, so each token is scored against another sample's target
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(0)
VOCAB, SEQ, BATCH = 20, 12, 16


def make_batch(n):
    # each sequence counts up from a random start (mod VOCAB): next token is predictable
    start = torch.randint(0, VOCAB, (n, 1))
    steps = torch.arange(SEQ + 1).unsqueeze(0)
    seq = (start + steps) % VOCAB
    return seq[:, :-1].contiguous(), seq[:, 1:].contiguous()


class CharGRU(nn.Module):
    def __init__(self, vocab, emb=32, hidden=64):
        super().__init__()
        self.emb = nn.Embedding(vocab, emb)
        self.rnn = nn.GRU(emb, hidden)
        self.head = nn.Linear(hidden, vocab)

    def forward(self, tokens):
        x = self.emb(tokens).transpose(0, 1)      # (T, B, E)
        out, _ = self.rnn(x)                      # (T, B, H)
        return self.head(out)                     # (T, B, V)


model = CharGRU(VOCAB)
opt = torch.optim.Adam(model.parameters(), lr=3e-3)

for step in range(300):
    inp, tgt = make_batch(BATCH)
    logits = model(inp)
    loss = F.cross_entropy(logits.view(-1, VOCAB), tgt.view(-1))
    opt.zero_grad()
    loss.backward()
    opt.step()
    if step % 30 == 0 or step == 299:
        with torch.no_grad():
            acc = (logits.argmax(-1).transpose(0, 1) == tgt).float().mean().item()
        print(f"step {step:4d}  loss {loss.item():.4f}  acc {acc:.3f}")
