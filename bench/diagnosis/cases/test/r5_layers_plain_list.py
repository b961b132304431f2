# source: https://github.com/pytorch/pytorch/issues/715
# expect: params-not-in-optimizer
# category: regression
# bug: the hidden layers are kept in a plain Python list instead of nn.ModuleList, so model.parameters() does not contain them; they receive gradients but the optimizer never updates them
"""Configurable-depth MLP regressor."""
import torch
import torch.nn as nn

torch.manual_seed(0)


class DeepRegressor(nn.Module):
    def __init__(self, d_in, width, depth):
        super().__init__()
        self.hidden = [nn.Linear(d_in, width)]        # BUG: should be nn.ModuleList
        for _ in range(depth):
            self.hidden.append(nn.Linear(width, width))
        self.out = nn.Linear(width, 1)

    def forward(self, x):
        h = torch.relu(self.hidden[0](x))
        for layer in self.hidden[1:]:
            h = torch.relu(layer(h)) + h
        return self.out(h)


N, D = 2000, 6
X = torch.rand(N, D) * 4 - 2
y = (torch.sin(X[:, 0] * X[:, 1]) + torch.cos(2 * X[:, 2]) * X[:, 3] + 0.05 * torch.randn(N)).unsqueeze(1)

model = DeepRegressor(D, 48, 3)
print("parameters seen by the optimizer:", sum(p.numel() for p in model.parameters()))
opt = torch.optim.Adam(model.parameters(), lr=3e-3)
sched = torch.optim.lr_scheduler.StepLR(opt, step_size=6, gamma=0.5)

for epoch in range(15):
    perm = torch.randperm(N)
    tot = 0.0
    for i in range(0, N, 100):
        idx = perm[i:i + 100]
        loss = nn.functional.mse_loss(model(X[idx]), y[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
        tot += loss.item() * len(idx)
    sched.step()
    if epoch % 4 == 0 or epoch == 14:
        print(f"epoch {epoch:2d}  mse {tot / N:.4f}")
