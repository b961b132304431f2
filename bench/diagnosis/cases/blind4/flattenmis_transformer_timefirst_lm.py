# source: https://github.com/Exorust/TorchLeet/issues/5 (nn.TransformerEncoderLayer left at the default batch_first=False gives high training loss) and https://github.com/IBM/TabFormer/pull/14 (batch/sequence dims swapped around the transformer encoder)
# expect: targets-misaligned
# category: lm
# bug: forward() runs the encoder time-first and returns (T, B, V) logits, but lm_loss flattens them against the (B, T) next-token targets, pairing each position's prediction with a token from another melody/position
import math
import random
import torch
import torch.nn as nn
import torch.nn.functional as F

random.seed(9)
torch.manual_seed(9)

VOCAB = 40          # pitches 0..35 plus 4 rhythm/rest tokens
SEQ = 32
SCALES = [[0, 2, 4, 5, 7, 9, 11], [0, 2, 3, 5, 7, 8, 10], [0, 3, 5, 7, 10]]


def melody():
    """Motif-based melody: a 4-6 note motif in a random key/scale is repeated
    with small transpositions, separated by a rest token."""
    scale = random.choice(SCALES)
    root = random.randint(0, 11)
    motif = [random.randrange(len(scale)) for _ in range(random.randint(4, 6))]
    out = []
    while len(out) < SEQ + 1:
        shift = random.choice([0, 0, 1, 2])
        for d in motif:
            deg = d + shift
            out.append(root + scale[deg % len(scale)] + 12 * (deg // len(scale)))
        out.append(36 + random.randint(0, 3))
    return out[:SEQ + 1]


def corpus(n):
    return torch.tensor([melody() for _ in range(n)])


class MelodyLM(nn.Module):
    def __init__(self, d=64, heads=4, layers=2):
        super().__init__()
        self.tok = nn.Embedding(VOCAB, d)
        self.pos = nn.Parameter(torch.randn(SEQ, 1, d) * 0.02)
        layer = nn.TransformerEncoderLayer(d, heads, dim_feedforward=4 * d, dropout=0.1)
        self.encoder = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(d)
        self.out = nn.Linear(d, VOCAB)
        self.register_buffer("causal", torch.triu(torch.full((SEQ, SEQ), float("-inf")), 1))

    def forward(self, tokens):                    # tokens: (B, T)
        T = tokens.size(1)
        h = self.tok(tokens.t()) * math.sqrt(self.tok.embedding_dim) + self.pos[:T]
        h = self.encoder(h, mask=self.causal[:T, :T])
        return self.out(self.norm(h))            # (T, B, V)

    def lm_loss(self, batch):
        inp, tgt = batch[:, :-1], batch[:, 1:]
        logits = self(inp)
        return F.cross_entropy(logits.reshape(-1, VOCAB), tgt.reshape(-1))


train, valid = corpus(3000), corpus(300)
model = MelodyLM()
opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.01)
total_steps = 160
sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=2e-3, total_steps=total_steps, pct_start=0.1)

step = 0
while step < total_steps:
    perm = torch.randperm(len(train))
    for s in range(0, len(train), 32):
        model.train()
        loss = model.lm_loss(train[perm[s:s + 32]])
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        step += 1
        if step % 40 == 0:
            model.eval()
            with torch.no_grad():
                vl = model.lm_loss(valid).item()
            print(f"step {step:4d}  train loss {loss.item():.3f}  valid loss {vl:.3f}  valid ppl {math.exp(vl):.2f}")
        if step >= total_steps:
            break
