# source: https://stats.stackexchange.com/questions/45087/why-doesnt-backpropagation-work-when-you-initialize-the-weights-the-same-value
# expect: symmetric-units
# category: tabular
# bug: hand-written two-layer net whose weight matrices start as torch.full(..., 0.05): every hidden tanh unit stays the same
import torch

torch.manual_seed(4)

n, d, h = 1024, 8, 32
X = torch.randn(n, d)
y = (torch.sin(2 * X[:, 0]) * X[:, 1] + X[:, 2] ** 2 - X[:, 3] * X[:, 4]).unsqueeze(1)
y = (y - y.mean()) / y.std()

W1 = torch.full((d, h), 0.05, requires_grad=True)
b1 = torch.zeros(h, requires_grad=True)
W2 = torch.full((h, 1), 0.05, requires_grad=True)
b2 = torch.zeros(1, requires_grad=True)
params = [W1, b1, W2, b2]
opt = torch.optim.SGD(params, lr=0.05, momentum=0.9)

batch = 64
for epoch in range(25):
    perm = torch.randperm(n)
    for i in range(0, n, batch):
        idx = perm[i:i + batch]
        hid = torch.tanh(X[idx] @ W1 + b1)
        pred = hid @ W2 + b2
        loss = ((pred - y[idx]) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        full = ((torch.tanh(X @ W1 + b1) @ W2 + b2 - y) ** 2).mean()
    if epoch % 4 == 0 or epoch == 24:
        print(f"epoch {epoch}: mse {full.item():.4f}")
