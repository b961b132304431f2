# source: https://codestudyblog.com/8ten8/80409021901.html
# expect: nll-without-log-softmax
# category: tabular
# bug: F.nll_loss is applied to the raw outputs of the last Linear layer (no log_softmax), so the loss is unbounded below
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(2)

# tabular data: 12 numeric features, 4 customer segments
n, d, k = 3000, 12, 4
centers = torch.randn(k, d) * 1.5
y = torch.randint(0, k, (n,))
X = centers[y] + torch.randn(n, d)
X = (X - X.mean(0)) / X.std(0)

W1 = nn.Linear(d, 64)
W2 = nn.Linear(64, 64)
W3 = nn.Linear(64, k)
params = list(W1.parameters()) + list(W2.parameters()) + list(W3.parameters())
opt = torch.optim.Adam(params, lr=1e-3)


def net(x):
    h = F.relu(W1(x))
    h = F.relu(W2(h))
    return W3(h)


bs = 100
for it in range(300):
    idx = torch.randint(0, n, (bs,))
    output = net(X[idx])
    loss = F.nll_loss(output, y[idx])
    opt.zero_grad()
    loss.backward()
    opt.step()
    if it % 30 == 0 or it == 299:
        with torch.no_grad():
            acc = (net(X).argmax(1) == y).float().mean().item()
        print(f"iter {it:3d}  loss {loss.item():10.3f}  acc {acc:.3f}")
