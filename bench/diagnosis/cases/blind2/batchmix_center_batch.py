# source: https://github.com/Kyubyong/transformer/issues/40
# expect: batch-mixing, cross-sample-leakage
# category: tabular
# bug: the model "centres" its hidden features by subtracting their mean over the batch, so each output depends on the other rows and single-row predictions collapse
import torch
import torch.nn as nn

torch.manual_seed(11)
n = 2000
X = torch.randn(n, 5)
y = 3.0 + X[:, 0] * 2 + X[:, 1] ** 2 - X[:, 2]
X_tr, y_tr, X_va, y_va = X[:1600], y[:1600], X[1600:], y[1600:]


class Regressor(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(5, 64)
        self.fc2 = nn.Linear(64, 64)
        self.out = nn.Linear(64, 1)

    def forward(self, x):
        h = torch.relu(self.fc1(x))
        h = h - h.mean(dim=0, keepdim=True)
        h = torch.relu(self.fc2(h))
        return self.out(h).squeeze(-1)


model = Regressor()
opt = torch.optim.Adam(model.parameters(), lr=2e-3)
loss_fn = nn.MSELoss()

def evaluate():
    model.eval()
    with torch.no_grad():
        batch_mse = loss_fn(model(X_va), y_va).item()
        single = torch.cat([model(X_va[i:i + 1]) for i in range(200)])
        single_mse = loss_fn(single, y_va[:200]).item()
    model.train()
    return batch_mse, single_mse

for epoch in range(10):
    perm = torch.randperm(1600)
    for i in range(0, 1600, 64):
        idx = perm[i:i + 64]
        loss = loss_fn(model(X_tr[idx]), y_tr[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
    b, s = evaluate()
    print(f"epoch {epoch} train {loss.item():.3f} val(batched) {b:.3f} val(one row at a time) {s:.3f}")
