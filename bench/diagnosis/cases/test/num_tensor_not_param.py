# source: https://github.com/SimonThomine/RememberingNormality/issues/7
# expect: params-not-in-optimizer
# category: classification
# bug: the module's weights and biases are plain tensors created with requires_grad=True instead of nn.Parameter, so model.parameters() only yields the learnable temperature; the real weights receive gradients every step but no optimizer ever updates them and the loss stays near chance
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(10)


class ScratchMLP(nn.Module):
    """Two-layer MLP written "from scratch", with a learnable logit temperature."""

    def __init__(self, d_in, d_hidden, n_classes):
        super().__init__()
        self.w1 = torch.randn(d_in, d_hidden).div_(math.sqrt(d_in)).requires_grad_()
        self.b1 = torch.zeros(d_hidden, requires_grad=True)
        self.w2 = torch.randn(d_hidden, n_classes).div_(math.sqrt(d_hidden)).requires_grad_()
        self.b2 = torch.zeros(n_classes, requires_grad=True)
        self.log_temperature = nn.Parameter(torch.zeros(()))

    def forward(self, x):
        h = F.relu(x @ self.w1 + self.b1)
        return (h @ self.w2 + self.b2) * self.log_temperature.exp()


N, D, C = 3000, 40, 6
protos = torch.randn(C, D) * 1.5
y = torch.randint(0, C, (N,))
X = protos[y] + torch.randn(N, D)

model = ScratchMLP(D, 64, C)
print("parameters seen by the optimizer:", sum(p.numel() for p in model.parameters()))
opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)

for epoch in range(12):
    perm = torch.randperm(N)
    tot = 0.0
    for i in range(0, N, 100):
        idx = perm[i:i + 100]
        loss = F.cross_entropy(model(X[idx]), y[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
        tot += loss.item()
    print(f"epoch {epoch:2d}  loss {tot / 30:.4f}")
