# source: https://github.com/pytorch/pytorch/pull/120668
# expect: causal-leak, label-leakage
# category: lm
# bug: a boolean tril mask meaning "may attend" (SDPA convention) is passed to nn.TransformerEncoder (batch_first=True), where True means "masked": each token sees only the tokens after it
import math
import torch
import torch.nn as nn
from torch.utils.data import Dataset, DataLoader

torch.manual_seed(15)

VOCAB, WINDOW = 24, 16


class WindowDataset(Dataset):
    def __init__(self, n_tokens):
        toks = torch.empty(n_tokens, dtype=torch.long)
        toks[0] = 0
        for i in range(1, n_tokens):
            toks[i] = (toks[i - 1] + 5) % VOCAB
        flip = torch.rand(n_tokens) < 0.3
        self.toks = torch.where(flip, torch.randint(VOCAB, (n_tokens,)), toks)

    def __len__(self):
        return len(self.toks) - WINDOW - 1

    def __getitem__(self, i):
        chunk = self.toks[i:i + WINDOW + 1]
        return chunk[:-1], chunk[1:]


class TokenTransformer(nn.Module):
    def __init__(self, d_model=48, nhead=4, layers=2):
        super().__init__()
        self.embedding = nn.Embedding(VOCAB, d_model)
        self.position = nn.Embedding(WINDOW, d_model)
        block = nn.TransformerEncoderLayer(d_model, nhead, dim_feedforward=96, dropout=0.1, batch_first=True)
        self.body = nn.TransformerEncoder(block, layers, enable_nested_tensor=False)
        self.lm_head = nn.Linear(d_model, VOCAB)

    def forward(self, tokens):
        n = tokens.shape[1]
        visible = torch.tril(torch.ones(n, n)).bool()
        h = self.embedding(tokens) + self.position.weight[:n]
        h = self.body(h, mask=visible)
        return self.lm_head(h)


def train(model, loader, epochs, lr=2e-3):
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    criterion = nn.CrossEntropyLoss()
    step = 0
    for epoch in range(epochs):
        model.train()
        for x, y in loader:
            logits = model(x)
            loss = criterion(logits.transpose(1, 2), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            if step % 25 == 0:
                print(f"epoch {epoch} step {step:3d} loss {loss.item():.4f}")
            step += 1
            if step >= 250:
                return loss.item()
    return loss.item()


ds = WindowDataset(9000)
loader = DataLoader(ds, batch_size=32, shuffle=True)
print(f"uniform {math.log(VOCAB):.3f}")
final = train(TokenTransformer(), loader, epochs=3)
print(f"final loss {final:.4f}")
