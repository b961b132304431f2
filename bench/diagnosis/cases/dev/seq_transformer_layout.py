# source: https://github.com/Exorust/TorchLeet/issues/5
# expect: batch-mixing
# category: sequence
# bug: nn.TransformerEncoderLayer keeps its default batch_first=False but receives (batch, seq, dim) tensors, so self-attention runs across the samples of the batch instead of across positions
"""Are there more 3s than 4s in the sequence?  Read out from a [CLS] token at position 0.

Tokens 1..6 over 11 positions after the [CLS] (id 0).  The answer has to reach the [CLS]
position through self-attention; a linear head reads h[:, 0].
"""
import torch
import torch.nn as nn

torch.manual_seed(0)

CLS, VOCAB, L, D = 0, 7, 12, 32


def make_batch(n):
    body = torch.randint(1, VOCAB, (n, L - 1))
    y = ((body == 3).sum(1) > (body == 4).sum(1)).long()
    x = torch.cat([torch.full((n, 1), CLS), body], dim=1)
    return x, y


class CountClassifier(nn.Module):
    def __init__(self):
        super().__init__()
        self.tok = nn.Embedding(VOCAB, D)
        self.pos = nn.Parameter(torch.randn(1, L, D) * 0.1)
        layer = nn.TransformerEncoderLayer(d_model=D, nhead=4, dim_feedforward=64, dropout=0.0)
        self.encoder = nn.TransformerEncoder(layer, num_layers=2, enable_nested_tensor=False)
        self.head = nn.Linear(D, 2)

    def forward(self, tokens):              # (batch, seq)
        h = self.tok(tokens) + self.pos     # (batch, seq, dim)
        h = self.encoder(h)
        return self.head(h[:, 0])           # the [CLS] position


model = CountClassifier()
optimizer = torch.optim.Adam(model.parameters(), lr=2e-3)
criterion = nn.CrossEntropyLoss()

for step in range(120):
    model.train()
    x, y = make_batch(64)
    loss = criterion(model(x), y)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    if step % 12 == 0:
        model.eval()
        with torch.no_grad():
            xv, yv = make_batch(256)
            acc = (model(xv).argmax(1) == yv).float().mean().item()
        print(f"step {step:3d} loss {loss.item():.4f} val acc {acc:.3f}")
