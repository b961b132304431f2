# source: https://github.com/lucidrains/DALLE-pytorch/issues/57
# expect: healthy
# category: sequence
# bug: none: a padded token-tagging Transformer (batch_first=True) with src_key_padding_mask True at the pads, cross-entropy on (B, C, T) with ignore_index on the pads and a sum reduction divided by the number of real tokens
"""Tag each token with whether it has already appeared earlier in its sequence.

Variable-length sequences padded to 20; the tags of pad positions are -100.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(0)

PAD, VOCAB, MAXLEN, D = 0, 12, 20, 48
IGNORE = -100


def make_batch(bs):
    tokens = torch.full((bs, MAXLEN), PAD)
    tags = torch.full((bs, MAXLEN), IGNORE)
    for i in range(bs):
        n = int(torch.randint(4, MAXLEN + 1, ()).item())
        seq = torch.randint(1, VOCAB, (n,))
        seen = set()
        for j, t in enumerate(seq.tolist()):
            tags[i, j] = int(t in seen)
            seen.add(t)
        tokens[i, :n] = seq
    return tokens, tags


class Tagger(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(VOCAB, D, padding_idx=PAD)
        self.pos = nn.Parameter(torch.zeros(1, MAXLEN, D))
        nn.init.normal_(self.pos, std=0.1)
        layer = nn.TransformerEncoderLayer(D, 4, 96, dropout=0.0, batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, 2, enable_nested_tensor=False)
        self.head = nn.Linear(D, 2)
        mask = torch.triu(torch.ones(MAXLEN, MAXLEN, dtype=torch.bool), diagonal=1)
        self.register_buffer("causal", mask)          # a token may only look back

    def forward(self, tokens):
        h = self.emb(tokens) + self.pos
        h = self.encoder(h, mask=self.causal, src_key_padding_mask=tokens == PAD)
        return self.head(h)                               # (B, T, 2)


model = Tagger()
optimizer = torch.optim.Adam(model.parameters(), lr=2e-3)

for step in range(250):
    tokens, tags = make_batch(32)
    logits = model(tokens)
    n_real = (tags != IGNORE).sum()
    loss = F.cross_entropy(logits.transpose(1, 2), tags, ignore_index=IGNORE, reduction="sum") / n_real
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    if step % 25 == 0:
        with torch.no_grad():
            real = tags != IGNORE
            acc = (logits.argmax(-1)[real] == tags[real]).float().mean().item()
        print(f"step {step:3d} loss {loss.item():.4f} acc {acc:.3f}")
