# source: bentrevett/pytorch-seq2seq tutorial 1 ("Sequence to Sequence Learning with Neural Networks"), see https://github.com/bentrevett/pytorch-seq2seq/issues/46 : outputs tensor is [trg_len, batch, vocab] and the loss uses output[1:].view(-1, dim) against trg[1:].view(-1), both time-first
# expect: healthy
# category: sequence
# bug: none - decoder outputs are written into a (T, B, V) buffer and the targets are also kept time-first (T, B); flattening both with view(-1) pairs every prediction with its own target token
import random
import torch
import torch.nn as nn

random.seed(1)
torch.manual_seed(1)

# task: "reverse and increment" digit strings, e.g. 3 1 4 -> 5 2 4  (each digit + 1 mod 10, reversed)
SOS, EOS = 10, 11
VOCAB = 12
SRC_LEN = 7
TRG_LEN = SRC_LEN + 2


def make_pair():
    src = [random.randrange(10) for _ in range(SRC_LEN)]
    trg = [SOS] + [(d + 1) % 10 for d in reversed(src)] + [EOS]
    return src, trg


def make_batch(n):
    pairs = [make_pair() for _ in range(n)]
    src = torch.tensor([p[0] for p in pairs]).t().contiguous()   # [src_len, batch]
    trg = torch.tensor([p[1] for p in pairs]).t().contiguous()   # [trg_len, batch]
    return src, trg


class Encoder(nn.Module):
    def __init__(self, emb=32, hid=128):
        super().__init__()
        self.embedding = nn.Embedding(VOCAB, emb)
        self.rnn = nn.GRU(emb, hid)

    def forward(self, src):
        _, hidden = self.rnn(self.embedding(src))
        return hidden


class Decoder(nn.Module):
    def __init__(self, emb=32, hid=128):
        super().__init__()
        self.embedding = nn.Embedding(VOCAB, emb)
        self.rnn = nn.GRU(emb, hid)
        self.fc_out = nn.Linear(hid, VOCAB)

    def forward(self, inp, hidden):
        out, hidden = self.rnn(self.embedding(inp.unsqueeze(0)), hidden)
        return self.fc_out(out.squeeze(0)), hidden


class Seq2Seq(nn.Module):
    def __init__(self):
        super().__init__()
        self.encoder, self.decoder = Encoder(), Decoder()

    def forward(self, src, trg, teacher_forcing_ratio=0.5):
        trg_len, batch_size = trg.shape
        outputs = torch.zeros(trg_len, batch_size, VOCAB)
        hidden = self.encoder(src)
        inp = trg[0, :]
        for t in range(1, trg_len):
            output, hidden = self.decoder(inp, hidden)
            outputs[t] = output
            teacher_force = random.random() < teacher_forcing_ratio
            inp = trg[t] if teacher_force else output.argmax(1)
        return outputs


model = Seq2Seq()
optimizer = torch.optim.Adam(model.parameters(), lr=2e-3)
criterion = nn.CrossEntropyLoss()
val_src, val_trg = make_batch(500)

for it in range(1, 401):
    model.train()
    src, trg = make_batch(64)
    output = model(src, trg)
    output_dim = output.shape[-1]
    output = output[1:].view(-1, output_dim)
    trg_flat = trg[1:].view(-1)
    loss = criterion(output, trg_flat)
    optimizer.zero_grad()
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    optimizer.step()
    if it % 50 == 0:
        model.eval()
        with torch.no_grad():
            out = model(val_src, val_trg, teacher_forcing_ratio=0.0)
            pred = out[1:].argmax(-1)
            tok_acc = (pred == val_trg[1:]).float().mean().item()
            seq_acc = (pred == val_trg[1:]).all(0).float().mean().item()
        print(f"iter {it:4d}  train loss {loss.item():.4f}  greedy token acc {tok_acc:.3f}  exact match {seq_acc:.3f}")
