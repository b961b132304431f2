# source: https://github.com/karpathy/nn-zero-to-hero/issues/66
# expect: healthy
# category: sequence
# bug: none; hidden layers initialised with std=1 but each Linear is followed by LayerNorm before the tanh, so the pre-activations are rescaled and nothing saturates
import torch
import torch.nn as nn

torch.manual_seed(31)

B, T, D = 32, 12, 10


def batch():
    x = torch.randn(B, T, D)
    y = (x[:, :, 0].cumsum(1)[:, -1] > 0).long() + (x[:, :, 1].max(1).values > 2.0).long()
    return x, y


class NormTanhBlock(nn.Module):
    def __init__(self, d_in, d_out):
        super().__init__()
        self.fc = nn.Linear(d_in, d_out)
        nn.init.normal_(self.fc.weight, std=1.0)
        self.norm = nn.LayerNorm(d_out)

    def forward(self, x):
        return torch.tanh(self.norm(self.fc(x)))


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.step = NormTanhBlock(D, 64)
        self.mix = NormTanhBlock(64 * 2, 64)
        self.head = nn.Linear(64, 3)

    def forward(self, x):
        h = self.step(x)                                  # (B, T, 64)
        pooled = torch.cat([h.mean(1), h.max(1).values], -1)
        return self.head(self.mix(pooled))


model = Net()
opt = torch.optim.Adam(model.parameters(), lr=2e-3)
for it in range(300):
    x, y = batch()
    loss = nn.functional.cross_entropy(model(x), y)
    opt.zero_grad()
    loss.backward()
    opt.step()
    if it % 50 == 0 or it == 299:
        print(f"iter {it} loss {loss.item():.4f}")
