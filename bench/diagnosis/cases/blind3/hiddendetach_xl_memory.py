# source: https://github.com/isds-neu/PeRCNN/issues/3
# expect: state-not-detached
# category: lm
# bug: a Transformer-XL style segment memory (previous segment's hidden states) is cached with its graph attached and backward uses retain_graph=True, so each step backpropagates into the previous step's graph built with weights the optimizer has since changed
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(6)

VOCAB, D, SEG, BATCH = 12, 32, 16, 8


def make_corpus(n_tokens):
    # a noisy periodic token stream: predictable given enough context
    base = torch.tensor([1, 5, 3, 7, 2, 9, 4, 11, 6, 0])
    seq = base.repeat(n_tokens // len(base) + 1)[:n_tokens]
    noise = torch.rand(n_tokens) < 0.05
    seq[noise] = torch.randint(VOCAB, (int(noise.sum()),))
    return seq


class MemoryBlock(nn.Module):
    def __init__(self):
        super().__init__()
        self.q = nn.Linear(D, D)
        self.kv = nn.Linear(D, 2 * D)
        self.ff = nn.Sequential(nn.Linear(D, 4 * D), nn.GELU(), nn.Linear(4 * D, D))
        self.n1 = nn.LayerNorm(D)
        self.n2 = nn.LayerNorm(D)

    def forward(self, x, mem):
        ctx = x if mem is None else torch.cat([mem, x], dim=1)
        q = self.q(x)
        k, v = self.kv(ctx).chunk(2, dim=-1)
        T, M = x.shape[1], ctx.shape[1]
        causal = torch.ones(T, M, dtype=torch.bool).tril(diagonal=M - T)
        att = (q @ k.transpose(1, 2)) / D ** 0.5
        att = att.masked_fill(~causal, float("-inf")).softmax(-1)
        h = self.n1(x + att @ v)
        return self.n2(h + self.ff(h))


class TinyXL(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(VOCAB, D)
        self.pos = nn.Parameter(0.02 * torch.randn(SEG, D))
        self.block = MemoryBlock()
        self.out = nn.Linear(D, VOCAB)

    def forward(self, tokens, mem):
        h = self.emb(tokens) + self.pos
        h = self.block(h, mem)
        return self.out(h), h


corpus = make_corpus(BATCH * SEG * 60 + 1)
stream = corpus[:-1].view(BATCH, -1)
target = corpus[1:].view(BATCH, -1)

model = TinyXL()
opt = torch.optim.Adam(model.parameters(), lr=2e-3, betas=(0.9, 0.98))
memory = None
for epoch in range(4):
    memory = None
    for s in range(0, stream.shape[1], SEG):
        x, y = stream[:, s:s + SEG], target[:, s:s + SEG]
        logits, memory = model(x, memory)
        loss = F.cross_entropy(logits.reshape(-1, VOCAB), y.reshape(-1))
        opt.zero_grad()
        loss.backward(retain_graph=True)
        opt.step()
    print(f"epoch {epoch} loss {loss.item():.4f}")
