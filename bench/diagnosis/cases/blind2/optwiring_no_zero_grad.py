# source: https://github.com/wenet-e2e/wekws/issues/72
# expect: grad-not-zeroed
# category: sequence
# bug: the training loop never calls optimizer.zero_grad(), so every step applies the sum of all past gradients
import torch
import torch.nn as nn

torch.manual_seed(13)

VOCAB, T, N_CLASSES = 40, 16, 3


def sample_batch(bs):
    x = torch.randint(1, VOCAB, (bs, T))
    # label: which of three keyword tokens occurs most often
    counts = torch.stack([(x == k).sum(1) for k in (5, 6, 7)], dim=1).float()
    y = (counts + 0.01 * torch.randn_like(counts)).argmax(1)
    return x, y


class KeywordSpotter(nn.Module):
    def __init__(self, d_model=32):
        super().__init__()
        self.embed = nn.Embedding(VOCAB, d_model)
        self.pos = nn.Parameter(torch.randn(1, T, d_model) * 0.02)
        layer = nn.TransformerEncoderLayer(d_model, nhead=4, dim_feedforward=64, batch_first=True, dropout=0.0)
        self.encoder = nn.TransformerEncoder(layer, num_layers=2)
        self.cls = nn.Linear(d_model, N_CLASSES)

    def forward(self, x):
        h = self.encoder(self.embed(x) + self.pos)
        return self.cls(h.mean(1))


model = KeywordSpotter()
criterion = nn.CrossEntropyLoss()
optimizer = torch.optim.SGD(model.parameters(), lr=0.02, momentum=0.9)

for batch_idx in range(150):
    x, y = sample_batch(64)
    output = model(x)
    loss = criterion(output, y)
    loss.backward()
    optimizer.step()
    if batch_idx % 20 == 0 or batch_idx == 149:
        acc = (output.argmax(1) == y).float().mean().item()
        print(f"batch {batch_idx:3d} loss {loss.item():.4f} acc {acc:.2f}")
