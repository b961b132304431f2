# source: https://github.com/pytorch/tutorials/issues/2478
# expect: causal-leak, label-leakage
# category: lm
# bug: a decoder-only LM is built from nn.TransformerDecoder with the token sequence also passed as memory; tgt_mask hides the future in self-attention but the cross-attention to memory has no mask, so every position reads the whole sequence
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(21)

VOCAB = 18
CTX = 16
BATCH = 32
STEPS = 220

g = torch.Generator().manual_seed(0)
trans = torch.softmax(torch.randn(VOCAB, VOCAB, generator=g) * 2.0, dim=-1)   # a peaked bigram table


def sample(n):
    seq = torch.empty(n, CTX + 1, dtype=torch.long)
    seq[:, 0] = torch.randint(0, VOCAB, (n,))
    for t in range(1, CTX + 1):
        seq[:, t] = torch.multinomial(trans[seq[:, t - 1]], 1).squeeze(1)
    return seq


class DecoderLM(nn.Module):
    def __init__(self, d=64, heads=4, layers=2):
        super().__init__()
        self.embed = nn.Embedding(VOCAB, d)
        self.pos = nn.Embedding(CTX, d)
        block = nn.TransformerDecoderLayer(d, heads, dim_feedforward=128, dropout=0.0, batch_first=True)
        self.decoder = nn.TransformerDecoder(block, layers)
        self.lm_head = nn.Linear(d, VOCAB)

    def forward(self, tokens):
        T = tokens.size(1)
        h = self.embed(tokens) + self.pos(torch.arange(T))
        causal = nn.Transformer.generate_square_subsequent_mask(T)
        h = self.decoder(tgt=h, memory=h, tgt_mask=causal)
        return self.lm_head(h)


model = DecoderLM()
opt = torch.optim.Adam(model.parameters(), lr=1e-3)
for step in range(STEPS):
    batch = sample(BATCH)
    logits = model(batch[:, :-1])
    loss = F.cross_entropy(logits.reshape(-1, VOCAB), batch[:, 1:].reshape(-1))
    opt.zero_grad()
    loss.backward()
    opt.step()
    if step % 40 == 0 or step == STEPS - 1:
        print(f"step {step} loss {loss.item():.4f}")
