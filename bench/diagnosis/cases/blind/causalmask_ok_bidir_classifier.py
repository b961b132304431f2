# source: https://github.com/LounesMD/LLaDA_Arithmetic/issues/3
# expect: healthy
# category: classification
# bug: none - a bidirectional nn.TransformerEncoder (no attention mask, sequence-first) classifies whole sequences; no causal mask is needed
import torch
import torch.nn as nn

torch.manual_seed(7)

VOCAB, SEQ, D, CLASSES = 12, 20, 32, 3


def make_data(n):
    x = torch.randint(1, VOCAB, (n, SEQ))
    # label: which of tokens 1/2/3 appears most often in the sequence
    counts = torch.stack([(x == c).sum(1) for c in (1, 2, 3)], 1)
    y = counts.argmax(1)
    return x, y


class SeqClassifier(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(VOCAB, D)
        self.cls = nn.Parameter(torch.zeros(1, 1, D))
        enc_layer = nn.TransformerEncoderLayer(D, 4, 64, dropout=0.1)
        self.enc = nn.TransformerEncoder(enc_layer, 2, enable_nested_tensor=False)
        self.head = nn.Linear(D, CLASSES)

    def forward(self, tokens):  # tokens: (batch, seq)
        h = self.emb(tokens).transpose(0, 1)  # (seq, batch, D)
        h = torch.cat([self.cls.expand(1, h.size(1), D), h], 0)
        h = self.enc(h)
        return self.head(h[0])


xtr, ytr = make_data(3000)
model = SeqClassifier()
opt = torch.optim.Adam(model.parameters(), lr=1e-3)
crit = nn.CrossEntropyLoss()

step = 0
for epoch in range(4):
    perm = torch.randperm(len(xtr))
    for i in range(0, len(xtr), 48):
        idx = perm[i:i + 48]
        logits = model(xtr[idx])
        loss = crit(logits, ytr[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % 40 == 0:
            acc = (logits.argmax(1) == ytr[idx]).float().mean().item()
            print(f"epoch {epoch} step {step:3d} loss {loss.item():.4f} acc {acc:.2f}")
        step += 1
print(f"final loss {loss.item():.4f}")
