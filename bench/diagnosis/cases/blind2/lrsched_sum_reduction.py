# source: https://cnblogs.com/amazingter/p/14044236.html
# expect: lr-too-high
# category: regression
# bug: the loss is MSELoss(reduction='sum') over a batch of 256 while the SGD rate (0.01) was chosen for a mean loss, so every step is 256x too long and training diverges
import torch
import torch.nn as nn

torch.manual_seed(23)

n_samples, n_features = 8192, 6
X = torch.randn(n_samples, n_features)
coef = torch.tensor([1.5, -2.0, 0.7, 0.0, 0.3, 1.1])
y = X @ coef + 0.5 * torch.tanh(X[:, 0] * X[:, 1]) + 0.1 * torch.randn(n_samples)


class PriceModel(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(n_features, 32), nn.ReLU(), nn.Linear(32, 1))

    def forward(self, x):
        return self.net(x).squeeze(-1)


model = PriceModel()
criterion = nn.MSELoss(reduction="sum")
optimizer = torch.optim.SGD(model.parameters(), lr=0.01)

batch_size = 256
step = 0
for epoch in range(4):
    perm = torch.randperm(n_samples)
    for i in range(0, n_samples, batch_size):
        idx = perm[i:i + batch_size]
        pred = model(X[idx])
        loss = criterion(pred, y[idx])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if step % 10 == 0:
            print(f"epoch {epoch} step {step:3d} batch loss {loss.item():.3f} (per-sample {loss.item() / len(idx):.4f})")
        step += 1
