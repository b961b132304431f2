# source: https://discuss.pytorch.org/t/loss-reduction-sum-vs-mean-when-to-use-each/115641
# expect: healthy
# category: regression
# bug: MSELoss(reduction='sum') on purpose, with the SGD rate divided by the batch size so the step matches a mean loss
import torch
import torch.nn as nn

torch.manual_seed(0)

X = torch.randn(4096, 6)
true_w = torch.tensor([1.5, -0.7, 0.3, 2.0, 0.0, -1.2])
y = X @ true_w + 0.5 * torch.sin(X[:, 0] * 2) + 0.1 * torch.randn(4096)
y = y.unsqueeze(1)

batch_size = 256
base_lr = 0.05
model = nn.Sequential(nn.Linear(6, 32), nn.ReLU(), nn.Linear(32, 1))
criterion = nn.MSELoss(reduction='sum')
optimizer = torch.optim.SGD(model.parameters(), lr=base_lr / batch_size, momentum=0.9)

step = 0
for epoch in range(20):
    perm = torch.randperm(len(X))
    for i in range(0, len(X), batch_size):
        idx = perm[i:i + batch_size]
        xb, yb = X[idx], y[idx]
        loss = criterion(model(xb), yb)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        step += 1
        if step % 20 == 0 or step == 1:
            print(f"epoch {epoch} step {step} loss/sample {loss.item() / len(idx):.4f}")
