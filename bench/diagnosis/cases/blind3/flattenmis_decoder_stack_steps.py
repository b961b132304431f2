# source: https://github.com/graykode/nlp-tutorial/issues/53
# expect: targets-misaligned
# category: sequence
# bug: the decoder loop stacks its per-step logits with torch.stack (dim 0, time-first) while the targets are (B, T); both are .view'd flat so each step's prediction meets another sample's token
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(13)
SRC_V, TGT_V, L, BOS = 15, 15, 8, 0
mapping = torch.randperm(TGT_V - 1) + 1  # token-wise "translation"


def make_pairs(n):
    src = torch.randint(1, SRC_V, (n, L))
    tgt = mapping[src - 1]
    return src, tgt


class Seq2Seq(nn.Module):
    def __init__(self, d=64):
        super().__init__()
        self.src_emb = nn.Embedding(SRC_V, d)
        self.tgt_emb = nn.Embedding(TGT_V, d)
        self.encoder = nn.LSTM(d, d, batch_first=True)
        self.cell = nn.LSTMCell(2 * d, d)
        self.proj = nn.Linear(d, TGT_V)

    def forward(self, src, tgt):
        enc_out, (h, c) = self.encoder(self.src_emb(src))
        h, c = h[0], c[0]
        prev = torch.full((src.size(0),), BOS, dtype=torch.long)
        outputs = []
        for t in range(tgt.size(1)):
            inp = torch.cat([self.tgt_emb(prev), enc_out[:, t]], dim=-1)
            h, c = self.cell(inp, (h, c))
            outputs.append(self.proj(h))
            prev = tgt[:, t]  # teacher forcing
        return torch.stack(outputs)


src_all, tgt_all = make_pairs(1200)
model = Seq2Seq()
optim = torch.optim.SGD(model.parameters(), lr=0.3, momentum=0.9)

for step in range(250):
    idx = torch.randint(0, 1200, (32,))
    src, tgt = src_all[idx], tgt_all[idx]
    logits = model(src, tgt)
    loss = F.cross_entropy(logits.view(-1, TGT_V), tgt.contiguous().view(-1))
    optim.zero_grad()
    loss.backward()
    nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    optim.step()
    if step % 50 == 0 or step == 249:
        print(f"step {step} loss {loss.item():.4f}")
