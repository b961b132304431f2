# source: https://github.com/jthickstun/pytorch_musicnet/issues/4
# expect: healthy
# category: classification
# bug: none — only the classification head (weight and bias) is zero-initialised, as in many policy/classifier heads; the encoder below keeps its random init
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(0)

VOCAB, SEQ, D = 12, 16, 32


def make_batch(n):
    tokens = torch.randint(0, VOCAB, (n, SEQ))
    count_a = (tokens == 1).sum(1)
    count_b = (tokens == 2).sum(1)
    labels = (count_a > count_b).long()
    return tokens, labels


class TokenClassifier(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(VOCAB, D)
        self.pos = nn.Parameter(0.02 * torch.randn(1, SEQ, D))
        layer = nn.TransformerEncoderLayer(D, nhead=4, dim_feedforward=64, dropout=0.0, batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, num_layers=1)
        self.head = nn.Linear(D, 2)
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)

    def forward(self, tokens):
        h = self.encoder(self.embed(tokens) + self.pos)
        return self.head(h.mean(dim=1))


model = TokenClassifier()
optimizer = torch.optim.AdamW(model.parameters(), lr=2e-3)
val_tokens, val_labels = make_batch(512)


def train(steps=250):
    for step in range(steps):
        tokens, labels = make_batch(64)
        loss = F.cross_entropy(model(tokens), labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if step % 25 == 0 or step == steps - 1:
            with torch.no_grad():
                acc = (model(val_tokens).argmax(1) == val_labels).float().mean().item()
            print(f"step {step:3d}  loss {loss.item():.4f}  val_acc {acc:.3f}")


train()
