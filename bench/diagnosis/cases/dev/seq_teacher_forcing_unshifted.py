# source: https://github.com/huggingface/transformers/issues/11977
# expect: target-not-shifted, label-leakage
# category: sequence
# bug: the decoder is teacher-forced with the target sequence itself instead of <bos> + target[:-1] (decoder inputs == labels), so at step t it is fed the very token it must predict; training loss goes to ~0 and greedy decoding fails
"""GRU encoder-decoder that reverses digit strings, sequence-first tensors (seq, batch)."""
import torch
import torch.nn as nn

torch.manual_seed(0)

BOS, N_DIGITS, LEN, BATCH = 10, 10, 8, 64
VOCAB = N_DIGITS + 1


def make_batch(bs):
    src = torch.randint(0, N_DIGITS, (LEN, bs))
    return src, src.flip(0)                  # (seq, batch) both


class Seq2Seq(nn.Module):
    def __init__(self, hid=96):
        super().__init__()
        self.src_emb = nn.Embedding(VOCAB, 32)
        self.tgt_emb = nn.Embedding(VOCAB, 32)
        self.encoder = nn.GRU(32, hid)
        self.decoder = nn.GRU(32, hid)
        self.out = nn.Linear(hid, VOCAB)

    def forward(self, src, dec_in):
        _, h = self.encoder(self.src_emb(src))
        y, _ = self.decoder(self.tgt_emb(dec_in), h)
        return self.out(y)                   # (seq, batch, vocab)

    @torch.no_grad()
    def greedy(self, src):
        _, h = self.encoder(self.src_emb(src))
        tok = torch.full((1, src.size(1)), BOS)
        outs = []
        for _ in range(LEN):
            y, h = self.decoder(self.tgt_emb(tok), h)
            tok = self.out(y).argmax(-1)
            outs.append(tok)
        return torch.cat(outs, 0)


model = Seq2Seq()
optimizer = torch.optim.Adam(model.parameters(), lr=2e-3)
criterion = nn.CrossEntropyLoss()

for step in range(200):
    src, tgt = make_batch(BATCH)
    decoder_input = tgt                       # teacher forcing
    logits = model(src, decoder_input)
    loss = criterion(logits.reshape(-1, VOCAB), tgt.reshape(-1))
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    if step % 20 == 0:
        s, t = make_batch(256)
        acc = (model.greedy(s) == t).float().mean().item()
        print(f"step {step:3d} loss {loss.item():.4f} greedy token acc {acc:.3f}")
