# source: https://discuss.pytorch.org/t/loss-reduction-sum-vs-mean-when-to-use-each/115641
# expect: lr-too-high, loss-divergence, exploding-gradients
# category: regression
# bug: MSELoss(reduction='sum') over a 256-row batch while the SGD lr=0.01 was picked for a mean loss: each step is 256x too long and the loss blows up
import torch
import torch.nn as nn

torch.manual_seed(0)

# fake house data: 6 features already scaled, price in units of 100k
X = torch.randn(4096, 6)
true_w = torch.tensor([1.5, -0.7, 0.3, 2.0, 0.0, -1.2])
y = X @ true_w + 0.5 * torch.sin(X[:, 0] * 2) + 0.1 * torch.randn(4096)
y = y.unsqueeze(1)

model = nn.Sequential(nn.Linear(6, 32), nn.ReLU(), nn.Linear(32, 1))
criterion = nn.MSELoss(reduction='sum')
optimizer = torch.optim.SGD(model.parameters(), lr=0.01)

batch_size = 256
step = 0
for epoch in range(20):
    perm = torch.randperm(len(X))
    for i in range(0, len(X), batch_size):
        idx = perm[i:i + batch_size]
        xb, yb = X[idx], y[idx]
        pred = model(xb)
        loss = criterion(pred, yb)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        step += 1
        if step % 20 == 0 or step == 1:
            print(f"epoch {epoch} step {step} loss {loss.item():.4f}")
